//! Assembling and running the daemon: state, router, guards, OpenAPI, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::error::ApiError;
use crate::guard::Guard;
use crate::manager::Manager;
use crate::routes::{birth, channels, diary, lifecycle, live, models, openai, personas};

/// Largest JSON body any route but migrate accepts.
const JSON_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub manager: Arc<Manager>,
    /// Model pulls in the background and their frames for `/ws/system`.
    pub pulls: Arc<crate::pulls::Pulls>,
    /// Her identity instances, read for her regulation while she runs or not.
    pub regulation: Arc<crate::regulator::Hosted>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("No free port in {first}..{last} on {host}")]
    NoFreePort {
        host: std::net::IpAddr,
        first: u16,
        last: u16,
    },
    #[error("Could not open ETERNEGO_HOME ({path}): {reason}")]
    Home { path: String, reason: String },
    #[error("Could not open the identity store: {0}")]
    Identity(String),
    #[error(
        "Refusing to listen on {host} without an access token: anyone who can reach it could drive her. \
         Create one with `eternego token create`, or bind 127.0.0.1."
    )]
    NoAccessToken { host: std::net::IpAddr },
    #[error("Could not read the access tokens: {0}")]
    Access(#[from] crate::access::TokenError),
    #[error("Server error: {0}")]
    Serve(#[from] std::io::Error),
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Eternego",
    description = "The eternego daemon: personas, their lifecycle and diaries, and the identity engine."
))]
struct ApiDoc;

/// Binds `host:port`, or the first free one of the next 19 ports. Prints the documented line
/// when it had to move.
pub async fn bind(config: &Config) -> Result<TcpListener, LaunchError> {
    let first = config.port;
    let last = first.saturating_add(19);
    for port in first..=last {
        match TcpListener::bind(SocketAddr::new(config.host, port)).await {
            Ok(listener) => {
                if port != first {
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stdout(),
                        "Port {first} was in use; using {port} instead."
                    );
                }
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(LaunchError::NoFreePort {
        host: config.host,
        first,
        last,
    })
}

/// Everything the routes need, opened from the configuration.
pub struct Daemon {
    pub state: AppState,
    pub identity: Arc<instances::Service>,
    /// Tokens and sessions when the daemon is exposed beyond loopback; `None` on loopback.
    pub access: Option<Arc<crate::access::Access>>,
}

impl Daemon {
    pub fn open(config: Config) -> Result<Daemon, LaunchError> {
        let home_error = |e: &dyn std::fmt::Display| LaunchError::Home {
            path: config.home.display().to_string(),
            reason: e.to_string(),
        };
        let keyring = if config.system_keyring {
            persona::secrets::Keyring::system()
        } else {
            persona::secrets::Keyring::none()
        };
        // Before anything is opened: an exposed daemon without a token must not start at all.
        let access = match config.exposed() {
            true => {
                let access = crate::access::Access::open(&config.home)?;
                if !access.has_tokens() {
                    return Err(LaunchError::NoAccessToken { host: config.host });
                }
                Some(Arc::new(access))
            }
            false => None,
        };
        let store = persona::Store::open(&config.home, &keyring).map_err(|e| home_error(&e))?;
        // Before anything writes: a create in flight would look like a leftover.
        store.recover().map_err(|e| home_error(&e))?;
        // Warm the index so the first list reads no record.
        store.records();
        watch_personas(store.clone());
        // The one client builder (bounded connect time, our user agent), shared by her organs,
        // her channels and model pulls.
        let http = organs::http_client();
        // One embedded engine per daemon, started by the first request for a model in her
        // library; each persona thinks in her own sequence of it.
        let embedded = organs::Embedded::new(
            &config.home,
            organs::EngineConfig {
                model_idle: config.model_idle,
                ..Default::default()
            },
        );
        let preparer = organs::Preparer::new(http.clone(), config.providers.clone())
            .with_embedded(embedded.clone());
        let settings = instances::Settings {
            min_interval: config.identity_min_interval,
            ..Default::default()
        };
        let identity = instances::Service::open(&config.home.join("identity"), settings)
            .map_err(|e| LaunchError::Identity(e.to_string()))?;
        let regulation = Arc::new(crate::regulator::Hosted::new(
            identity.clone(),
            config.home.join("identity").join("regulation"),
        ));
        let surroundings = mind::Surroundings {
            http: http.clone(),
            identity: regulation.clone(),
            clock: Arc::new(mind::SystemClock),
            platforms: config.platforms.clone(),
            embedded: Some(embedded),
        };
        let pulls = crate::pulls::Pulls::new(
            http.clone(),
            config.home.clone(),
            config.providers.local.clone(),
            config.hugging_face.clone(),
        );
        let manager = Manager::new(
            store,
            preparer,
            http,
            config.platforms.clone(),
            surroundings,
        );
        Ok(Daemon {
            state: AppState {
                config: Arc::new(config),
                manager: Arc::new(manager),
                pulls: Arc::new(pulls),
                regulation,
            },
            identity,
            access,
        })
    }

    /// The whole HTTP surface for a daemon listening on `port`.
    pub fn router(&self, port: u16) -> Router {
        let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(personas::list))
            .routes(routes!(personas::providers))
            .routes(routes!(birth::create))
            .routes(routes!(lifecycle::start))
            .routes(routes!(lifecycle::stop))
            .routes(routes!(lifecycle::restart))
            .routes(routes!(lifecycle::sleep))
            .routes(routes!(lifecycle::update))
            .routes(routes!(lifecycle::delete))
            .routes(routes!(diary::export))
            .routes(routes!(live::read))
            .routes(routes!(live::pair))
            .routes(routes!(live::interrupt))
            .routes(routes!(live::conversation))
            .routes(routes!(live::knowledge))
            .routes(routes!(live::calendar))
            .routes(routes!(live::diagnose))
            .routes(routes!(crate::routes::regulation::regulation))
            .routes(routes!(live::media))
            .routes(routes!(channels::add))
            .routes(routes!(channels::remove))
            .routes(routes!(openai::list_models))
            .routes(routes!(openai::retrieve_model))
            .routes(routes!(models::list))
            .routes(routes!(models::pull))
            .layer(DefaultBodyLimit::max(JSON_LIMIT))
            .merge(
                OpenApiRouter::new()
                    .routes(routes!(diary::migrate))
                    .routes(routes!(live::hear))
                    .routes(routes!(live::attach))
                    .routes(routes!(live::see))
                    .routes(routes!(openai::chat_completions))
                    .routes(routes!(live::feed))
                    .layer(DefaultBodyLimit::max(self.state.config.upload_limit)),
            )
            .with_state(self.state.clone())
            .split_for_parts();
        let openapi = Arc::new(openapi.merge_from(instances::openapi()));
        let guard = Guard {
            port,
            allowed_hosts: Arc::new(self.state.config.allowed_hosts.clone()),
            access: self.access.clone(),
        };
        let sockets = Router::new()
            .route("/ws/system", get(crate::routes::socket::system_socket))
            .route(
                "/ws/{persona_id}",
                get(crate::routes::socket::persona_socket),
            )
            .with_state(self.state.clone());
        let sockets = match &self.access {
            Some(access) => sockets.merge(
                Router::new()
                    .route("/api/session", axum::routing::post(crate::access::exchange))
                    .with_state(access.clone()),
            ),
            None => sockets,
        };
        api.route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .merge(sockets)
        .merge(instances::router(self.identity.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            guard,
            crate::guard::middleware,
        ))
        .layer(crate::trace::layer())
    }

    /// Serves until `shutdown` resolves, then stops every persona cleanly.
    pub async fn launch(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LaunchError> {
        let port = listener.local_addr()?.port();
        let app = self.router(port);
        // Without TCP_NODELAY a streamed answer's first event waits behind the headers for the
        // client's delayed ACK (about 40 ms on Linux): Nagle holds the second small write.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        // Serve at once; her start (which probes her Mind) runs beside the server.
        let boot = self.state.manager.boot();
        // The peer address keys the access-token failure counts.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        boot.abort();
        let _ = boot.await;
        self.state.manager.stop_all().await;
        served?;
        Ok(())
    }
}

/// The dashboard's pages and files, else the API's JSON 404.
async fn not_found(method: Method, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if matches!(method, Method::GET | Method::HEAD)
        && let Some(page) = crate::dashboard::serve(uri.path())
    {
        return page;
    }
    ApiError::NotFound("Not Found".into()).into_response()
}

async fn method_not_allowed(_: Method) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({ "detail": "Method Not Allowed" })),
    )
}

/// Starts the watch that keeps the persona index true to hand edits without a `stat` per
/// persona per list. Setting it up walks every persona folder (about a second at 10,000), so it
/// runs beside boot; until it is in place, and if it cannot be (the per-user inotify limits),
/// the index checks the disk by stat, which this says once.
fn watch_personas(store: persona::Store) {
    let spawned = std::thread::Builder::new()
        .name("persona-watch".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            match store.watch() {
                Ok(()) => tracing::info!(
                    setup_ms = started.elapsed().as_millis() as u64,
                    "watching the personas folder: hand edits show at the next list"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "hand edits are found by one stat per persona per list instead"
                ),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "hand edits are found by one stat per persona per list instead");
    }
}
