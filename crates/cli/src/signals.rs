//! Temporary files removed when the run is interrupted (SIGINT, SIGTERM, SIGHUP).
//!
//! Results are written to a temporary file next to the target, then renamed (see
//! [`crate::output::write_atomic`]). Every temporary file is registered here while it exists; the
//! handler removes them all and exits with code 130. A file left by SIGKILL or a power cut is
//! named `.balans-tmp-<pid>-<n>-<target>` so that it is recognisable, and is removed by the next write
//! to the same target once process `<pid>` is gone.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// What went to stdout: 0 nothing, 1 a stream was started (an interruption leaves it partial),
/// 2 the whole result was written. The handler reports it instead of "no output written".
static STDOUT_STATE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Records that results are being written to stdout.
pub fn stdout_started() {
    STDOUT_STATE.store(1, std::sync::atomic::Ordering::SeqCst);
}

/// Records that the whole result was written to stdout.
pub fn stdout_finished() {
    STDOUT_STATE.store(2, std::sync::atomic::Ordering::SeqCst);
}

/// Installs the handler (once, at start-up). Failing to install it is not fatal.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        remove_all();
        match STDOUT_STATE.load(std::sync::atomic::Ordering::SeqCst) {
            1 => eprintln!("\ninterrupted: the output on stdout is INCOMPLETE (cut off mid-stream; discard it); temporary files removed"),
            2 => eprintln!("\ninterrupted after the result was written to stdout; temporary files removed"),
            _ => eprintln!("\ninterrupted: temporary files removed, no output written"),
        }
        std::process::exit(130);
    });
}

/// Registers a temporary file for removal on interruption.
pub fn register(path: &Path) {
    if let Ok(mut files) = TEMP_FILES.lock() {
        files.push(path.to_path_buf());
    }
}

/// Forgets a temporary file (renamed into place or already removed).
pub fn unregister(path: &Path) {
    if let Ok(mut files) = TEMP_FILES.lock() {
        files.retain(|p| p != path);
    }
}

fn remove_all() {
    if let Ok(files) = TEMP_FILES.lock() {
        for f in files.iter() {
            std::fs::remove_file(f).ok();
        }
    }
}

/// The name of this process's `n`-th temporary file for `target`: `.balans-tmp-<pid>-<n>-<name>`.
/// A long target name is shortened so that the temporary name still fits in
/// [`crate::paths::MAX_FILE_NAME_BYTES`].
pub fn temp_name(target: &Path, n: usize) -> String {
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".balans-tmp-{}-{n}-", std::process::id());
    format!(
        "{prefix}{}",
        shorten(&name, crate::paths::MAX_FILE_NAME_BYTES - prefix.len())
    )
}

/// The longest prefix of `name` of at most `max` bytes that ends on a character boundary.
fn shorten(name: &str, max: usize) -> &str {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Removes `.balans-tmp-<pid>-<n>-<name>` files in `dir` left by processes that no longer exist
/// (Linux: `/proc/<pid>`; elsewhere nothing is removed).
pub fn remove_stale(dir: &Path, target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(".balans-tmp-") else {
            continue;
        };
        let Some((pid, tail)) = rest.split_once('-') else {
            continue;
        };
        let stale = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        });
        let same_target = tail.split_once('-').is_some_and(|(n, rest)| {
            n.bytes().all(|b| b.is_ascii_digit())
                && (rest == name || (rest.len() >= 200 && name.starts_with(rest)))
        });
        if stale && same_target {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}
