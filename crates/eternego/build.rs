//! Records the commit this binary was built from, for `eternego --version`. A build outside a
//! git checkout (a source tarball, a crate download) says "unknown" rather than failing.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ETERNEGO_COMMIT={commit}");
    // The commit's time is the floor for `eternego doctor`'s clock check: a clock earlier than
    // the code it runs is wrong. Outside git, the floor is when this line was written.
    let committed = git(&["log", "-1", "--format=%ct"]).unwrap_or_else(|| "1790000000".to_string());
    println!("cargo:rustc-env=ETERNEGO_COMMIT_TIME={committed}");
    // Rebuild when HEAD moves (a commit, a checkout). In a worktree the git dir is elsewhere,
    // so git is asked where it is.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for file in ["HEAD", "logs/HEAD"] {
            let path = std::path::Path::new(&dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
