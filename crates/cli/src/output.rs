//! Writing results: atomic file writes and the `--format` choice shared by commands.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Output format of a command's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// One JSON document.
    Json,
    /// CSV in long form.
    Csv,
}

impl From<Format> for balans_report::output::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => balans_report::output::Format::Table,
            Format::Json => balans_report::output::Format::Json,
            Format::Csv => balans_report::output::Format::Csv,
        }
    }
}

/// Renders a command's typed result in `format` (the one place formats are chosen:
/// [`balans_report::output::render`]) and writes it to `path` or stdout.
pub fn write_output(
    path: Option<&Path>,
    output: &balans_report::output::Output,
    format: Format,
) -> Result<()> {
    let text = balans_report::output::render(output, format.into())?;
    emit(path, text.as_bytes())
}

/// Set while a shard runs (`--shard`, see [`crate::shard`]): its results are partial, so the
/// command's outputs are discarded and only the part file is written.
static DISCARD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Discards (or again writes) every output written through this module.
pub fn set_discard(on: bool) {
    DISCARD.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// Writes `bytes` to `path` atomically: a temporary file `.balans-tmp-<pid>-<n>-<name>` in the same
/// folder, then a rename, so a failed or interrupted run never leaves a half-written file (the
/// temporary file is removed on SIGINT/SIGTERM, see [`crate::signals`]). The path is checked first
/// ([`crate::paths::check_output`]): inputs, directories and symbolic links are not replaced, and a
/// device or FIFO is written into. A new file gets the default mode under the umask (`0666 & !umask`);
/// a replaced file keeps its mode.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] with the content produced by `fill` in pieces (e.g. simulated rows streamed
/// as they are formatted, so memory does not grow with the output).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    if DISCARD.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    if crate::paths::check_output("the output", path)? == crate::paths::OutputKind::Special {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("failed to write {}", path.display()))?;
        return Ok(());
    }
    let dir = crate::paths::folder_of(path);
    crate::signals::remove_stale(dir, path);
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = dir.join(crate::signals::temp_name(path, n));
    crate::signals::register(&tmp);
    let result = write_then_rename(path, &tmp, fill);
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    crate::signals::unregister(&tmp);
    result
}

fn write_then_rename(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    // create_new with the default mode: the umask applies, as for any new file.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .with_context(|| format!("failed to create a temporary file {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    fill(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("failed to write {}", path.display()))?;
    let file = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("failed to write {}: {e}", path.display()))?;
    file.sync_all().ok();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_file() {
            std::fs::set_permissions(tmp, meta.permissions())
                .with_context(|| format!("failed to set the permissions of {}", path.display()))?;
        }
    }
    std::fs::rename(tmp, path).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

/// Writes to `path` atomically, or to stdout when `path` is `None` or `-`.
pub fn emit(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    if DISCARD.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    match path {
        Some(p) if p.as_os_str() != "-" => write_atomic(p, bytes),
        _ => {
            crate::signals::stdout_started();
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .context("failed to write to stdout")?;
            crate::signals::stdout_finished();
            Ok(())
        }
    }
}

/// True when `error` comes from writing into a pipe whose reader has gone (`| head -1`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
