//! Output-path safety: what `--out`, `--plot` and friends may write to, checked before a run starts.
//!
//! An output never silently replaces
//! * an input of the same run (`fit --data d.csv --out d.csv`),
//! * a directory (refused),
//! * a symbolic link's target (refused; with `--force` the link itself is replaced by a file),
//! * an existing file that is not of the kind written (`power --plot data.csv` over a CSV file),
//!
//! * an existing file that is read-only (mode 0444) or owned by another user,
//!
//! unless `--force` is given. A file name longer than the file system allows (255 bytes) is refused
//! at once. A device, FIFO or socket (`--out /dev/null`, `/dev/stdout`) is
//! written into, never replaced by a regular file. The folder must exist and be writable: a probe
//! file is created and removed before the run, so that a bad path fails in a second instead of
//! after the whole simulation.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static FORCE: AtomicBool = AtomicBool::new(false);
static INPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Sets the global `--force` flag.
pub fn set_force(force: bool) {
    FORCE.store(force, Ordering::SeqCst);
}

/// Remembers `path` as an input of this run: no output may replace it (without `--force`).
pub fn note_input(path: &Path) {
    if let Ok(mut inputs) = INPUTS.lock() {
        inputs.push(path.to_path_buf());
    }
}

/// How an output path will be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// A regular file (new or replaced): temporary file, then rename.
    File,
    /// A device, FIFO or socket: written into directly.
    Special,
}

/// Checks every output of a command before it runs: each one alone (see [`check_output`]), and no
/// two the same. `inputs` are noted as with [`note_input`].
pub fn check_outputs(outputs: &[(&str, Option<&Path>)], inputs: &[&Path]) -> Result<()> {
    for input in inputs {
        note_input(input);
    }
    let mut seen: Vec<(&str, &Path)> = Vec::new();
    for &(flag, path) in outputs {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, p)| same_file(p, path)) {
            bail!(
                "{flag} {} is also the path of {other}; give each output its own file",
                path.display()
            );
        }
        if check_output(flag, path)? == OutputKind::File {
            probe_folder(flag, path)?;
        }
        seen.push((flag, path));
    }
    Ok(())
}

/// Checks one output path (`flag` names it in messages) and says how it will be written.
pub fn check_output(flag: &str, path: &Path) -> Result<OutputKind> {
    let force = FORCE.load(Ordering::SeqCst);
    let shown = path.display();
    check_name_length(flag, path)?;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(OutputKind::File);
    };
    if meta.file_type().is_symlink() && !force {
        bail!("{flag} {shown} is a symbolic link; balans does not write through links\n = help: write to the link's target directly, or pass --force to replace the link by a file");
    }
    let target = std::fs::metadata(path).ok();
    if target.as_ref().is_some_and(|m| m.is_dir()) {
        bail!(
            "{flag} {shown} is a directory; name a file in it, e.g. {}",
            path.join("results.txt").display()
        );
    }
    if meta.file_type().is_symlink() {
        return Ok(OutputKind::File);
    }
    if !meta.is_file() {
        return Ok(OutputKind::Special);
    }
    if !force {
        if let Some(input) = INPUTS
            .lock()
            .ok()
            .and_then(|inputs| inputs.iter().find(|i| same_file(i, path)).cloned())
        {
            bail!(
                "{flag} {shown} is an input of this run ({}); balans will not replace it\n = help: write the results to another file, or pass --force",
                input.display()
            );
        }
        if meta.permissions().readonly() {
            bail!("{flag} {shown} exists and is read-only; balans will not replace it\n = help: write the results to another file, or pass --force");
        }
        if let Some(owner) = foreign_owner(&meta) {
            bail!("{flag} {shown} exists and belongs to another user (uid {owner}); balans will not replace it\n = help: write the results to another file, or pass --force");
        }
    }
    Ok(OutputKind::File)
}

/// Longest file name (one path component) the common file systems accept (ext4, XFS, APFS, NTFS:
/// 255 bytes), so that a long `--out` name fails before the run, not at the final rename.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Refuses a file name longer than [`MAX_FILE_NAME_BYTES`].
fn check_name_length(flag: &str, path: &Path) -> Result<()> {
    if let Some(name) = path.file_name() {
        let bytes = name.as_encoded_bytes().len();
        if bytes > MAX_FILE_NAME_BYTES {
            bail!(
                "{flag}: the file name has {bytes} bytes; file systems allow at most {MAX_FILE_NAME_BYTES}\n = help: choose a shorter name"
            );
        }
    }
    Ok(())
}

/// The owner of an existing file when it is not the user running balans (Unix; the running user
/// is read from the owner of `/proc/self`, so no C library call is needed). Elsewhere `None`.
fn foreign_owner(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self").ok()?.uid();
        (meta.uid() != me).then_some(meta.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Refuses to replace an existing file that does not look like an SVG image (`--plot data.csv`).
pub fn check_svg_target(flag: &str, path: &Path) -> Result<()> {
    if FORCE.load(Ordering::SeqCst) || !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if n > 0 && !(trimmed.starts_with("<svg") || trimmed.starts_with("<?xml")) {
        bail!(
            "{flag} {} exists and is not an SVG image; balans will not replace it\n = help: name a new .svg file, or pass --force",
            path.display()
        );
    }
    Ok(())
}

/// Creates and removes a probe file next to `path`, so that a missing or read-only folder is
/// reported before the run.
fn probe_folder(flag: &str, path: &Path) -> Result<()> {
    let dir = folder_of(path);
    if !dir.is_dir() {
        bail!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let probe = dir.join(format!(".balans-tmp-{}-probe", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            std::fs::remove_file(&probe).ok();
            Ok(())
        }
        Err(e) => bail!(
            "{flag} {}: cannot write in the folder {}: {e}",
            path.display(),
            dir.display()
        ),
    }
}

/// The folder of `path` (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// True when `a` and `b` name the same existing file (same device and inode on Unix, same
/// canonical path elsewhere), or the same path when neither exists.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Checks `--part FILE` before the run: as any output ([`check_outputs`]), not a file named
/// elsewhere on the command line (an input such as `--data`), and an existing file only when it is
/// a part file (JSON) — a part never replaces a CSV, a model or an image without `--force`.
pub fn check_part(part: &Path, argv: &[String]) -> Result<()> {
    let mut after_part = false;
    for arg in argv.iter().skip(1) {
        let is_part_flag = arg == "--part" || arg.starts_with("--part=");
        let skip = after_part || is_part_flag;
        after_part = arg == "--part";
        if skip {
            continue;
        }
        let value = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        let path = Path::new(value);
        if path.is_file() && same_file(path, part) && !FORCE.load(Ordering::SeqCst) {
            bail!(
                "--part {} is also named as {arg} on the command line (an input of this run); balans will not replace it\n = help: name a new part file, e.g. part-1.json",
                part.display()
            );
        }
    }
    check_outputs(&[("--part", Some(part))], &[])?;
    if !FORCE.load(Ordering::SeqCst) && std::fs::symlink_metadata(part).is_ok_and(|m| m.is_file()) {
        let mut head = [0u8; 64];
        let n = std::fs::File::open(part)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&head[..n]);
        if n > 0 && !text.trim_start().starts_with('{') {
            bail!(
                "--part {} exists and is not a part file; balans will not replace it\n = help: name a new part file, or pass --force",
                part.display()
            );
        }
    }
    Ok(())
}
