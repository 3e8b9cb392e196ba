//! The access tokens' own rules, below the HTTP layer.

use super::*;

fn with_bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn with_cookie(session: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("theme=dark; {SESSION_COOKIE}={session}")).unwrap(),
    );
    h
}

#[test]
fn tokens_are_stored_hashed_in_an_owner_only_file_and_revoked_by_id() {
    let home = tempfile::tempdir().unwrap();
    let tokens = Tokens::at(home.path());
    let (entry, secret) = tokens.create("laptop").unwrap();
    assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == 4 + 43);
    let raw = std::fs::read_to_string(home.path().join(TOKENS_FILE)).unwrap();
    assert!(!raw.contains(&secret) && !raw.contains(&secret[4..]));
    assert!(raw.contains(&hex(&digest(&secret))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join(TOKENS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "group and others get nothing: {mode:o}");
    }
    let access = Access::open(home.path()).unwrap();
    let now = Instant::now();
    assert_eq!(
        access.check(&with_bearer(&secret), None, now),
        Verdict::Allowed
    );
    assert_eq!(tokens.list().unwrap().len(), 1);
    assert_eq!(tokens.revoke(&entry.id).unwrap().name, "laptop");
    assert!(matches!(
        tokens.revoke(&entry.id),
        Err(TokenError::Unknown(_))
    ));
    assert!(!access.has_tokens());
    assert_eq!(
        access.check(&with_bearer(&secret), None, now),
        Verdict::Refused
    );
}

#[test]
fn wrong_tokens_lock_an_address_out_for_the_window_then_it_may_try_again() {
    let home = tempfile::tempdir().unwrap();
    let (_, secret) = Tokens::at(home.path()).create("ci").unwrap();
    let access = Access::open(home.path()).unwrap();
    let attacker = Some(IpAddr::from([203, 0, 113, 7]));
    let neighbour = Some(IpAddr::from([203, 0, 113, 8]));
    let t0 = Instant::now();
    for _ in 0..MOST_FAILURES {
        assert_eq!(
            access.check(&with_bearer("etg_guess"), attacker, t0),
            Verdict::Refused
        );
    }
    let later = t0 + Duration::from_secs(59);
    assert_eq!(
        access.check(&with_bearer(&secret), attacker, later),
        Verdict::Limited(Duration::from_secs(1)),
        "even the right token is refused while limited"
    );
    assert_eq!(
        access.check(&with_bearer(&secret), neighbour, later),
        Verdict::Allowed
    );
    let after = t0 + FAILURE_WINDOW;
    assert_eq!(
        access.check(&with_bearer(&secret), attacker, after),
        Verdict::Allowed
    );
}

#[test]
fn an_ipv6_client_is_limited_as_its_whole_64() {
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(bucket(Some(a)), bucket(Some(b)));
    assert_ne!(bucket(Some(a)), bucket(Some(other)));
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    assert_eq!(bucket(Some(mapped)), Some(IpAddr::from([192, 0, 2, 1])));
}

#[test]
fn a_link_opens_one_session_once_and_a_token_session_ends_with_its_token() {
    let home = tempfile::tempdir().unwrap();
    let tokens = Tokens::at(home.path());
    let (entry, secret) = tokens.create("phone").unwrap();
    let access = Access::open(home.path()).unwrap();
    let now = Instant::now();
    let link = access.mint_link();
    let by_link = access.exchange(&link, None, now).unwrap();
    assert_eq!(
        access.exchange(&link, None, now),
        Err(Verdict::Refused),
        "once"
    );
    assert_eq!(
        access.check(&with_cookie(&by_link), None, now),
        Verdict::Allowed
    );
    let by_token = access.exchange(&secret, None, now).unwrap();
    assert_eq!(
        access.check(&with_cookie(&by_token), None, now),
        Verdict::Allowed
    );
    assert_eq!(
        access.check(&with_cookie("forged"), None, now),
        Verdict::Refused
    );
    tokens.revoke(&entry.id).unwrap();
    assert_eq!(
        access.check(&with_cookie(&by_token), None, now),
        Verdict::Refused
    );
    assert_eq!(
        access.check(&with_cookie(&by_link), None, now),
        Verdict::Allowed
    );
}

#[test]
fn a_corrupt_token_file_accepts_nothing() {
    let home = tempfile::tempdir().unwrap();
    let (_, secret) = Tokens::at(home.path()).create("x").unwrap();
    let access = Access::open(home.path()).unwrap();
    std::fs::write(home.path().join(TOKENS_FILE), b"{oops, longer than before").unwrap();
    assert_eq!(
        access.check(&with_bearer(&secret), None, Instant::now()),
        Verdict::Refused
    );
}
