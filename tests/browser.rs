//! A real browser: a `balans report` page and a `balans teach` page rendered by headless Chromium
//! (Debian's `chromium`, installed by `.ci/run`). The screenshot must not be blank and the DOM must
//! hold the expected headings and tables.
//!
//! Without `chromium` on the PATH this test fails with a message saying how to install it: a
//! missing browser must not pass silently.

mod common;

use common::{balans, balans_in};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(45);

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser test needs Debian's chromium on the PATH, and none was found.\n\
                 Install it with: apt-get update && apt-get install -y chromium\n\
                 (.ci/run does this before running the tests)"
            )
        })
}

/// Runs chromium headless with `args` and the page, returning its stdout.
fn run_chromium(profile: &Path, args: &[String], page: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read stdout while the browser runs: a DOM larger than the pipe buffer would block it.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!(
                "chromium took more than {BROWSER_TIMEOUT:?} on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium failed on {}", page.display());
    reader
        .join()
        .expect("the reader thread")
        .expect("chromium's output is UTF-8")
}

/// Screenshot statistics: share of pixels that are not near-white, and the luma variance.
fn screenshot_stats(png_path: &Path) -> (f64, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("the screenshot exists"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        info.width >= 800 && info.height >= 600,
        "screenshot {}x{}",
        info.width,
        info.height
    );
    let lumas: Vec<f64> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| {
            if channels >= 3 {
                0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
            } else {
                p[0] as f64
            }
        })
        .collect();
    let n = lumas.len() as f64;
    let mean = lumas.iter().sum::<f64>() / n;
    let variance = lumas.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n;
    let ink = lumas.iter().filter(|l| **l < 200.0).count() as f64 / n;
    (ink, variance)
}

/// Renders `page` twice (screenshot, DOM) and checks the screenshot is not blank.
fn render(dir: &Path, page: &Path, name: &str) -> String {
    let shot = dir.join(format!("{name}.png"));
    run_chromium(
        &dir.join(format!("profile-{name}")),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600".to_string(),
        ],
        page,
    );
    let (ink, variance) = screenshot_stats(&shot);
    assert!(
        ink > 0.01 && variance > 100.0,
        "{name}: the screenshot looks blank (ink {ink:.4}, luma variance {variance:.1}); see {}",
        shot.display()
    );
    run_chromium(
        &dir.join(format!("profile-{name}-dom")),
        &["--dump-dom".to_string()],
        page,
    )
}

#[test]
fn report_and_teaching_page_render_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let golden = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/golden"));
    let power_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("power_rows.json")).unwrap())
            .unwrap();
    let report = dir.join("report.html");
    let out = balans_in(
        golden,
        &[
            "report",
            "power_rows.json",
            "fit_seed.json",
            "--out",
            report.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let demo = dir.join("decomposition.html");
    let out = balans(&[
        "teach",
        "demo",
        "decomposition",
        "--out",
        demo.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));

    let dom = render(dir, &report, "report");
    assert!(
        dom.contains("<h1>balans report</h1>"),
        "report DOM: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("Power analysis — power_rows.json</h2>"));
    assert!(dom.contains("Model fit — fit_seed.json</h2>"));
    assert!(dom.contains("<h3>Settings</h3>") && dom.contains("<h3>Power curves</h3>"));
    assert!(dom.contains(r#"<table class="power-rows">"#));
    assert_eq!(
        dom.matches("<tr data-n=").count(),
        power_json["rows"].as_array().unwrap().len(),
        "one table row per power result"
    );
    assert!(dom.contains(r#"<table class="parameters">"#));
    assert!(
        dom.matches("<svg").count() >= 3,
        "curves and diagrams are in the DOM"
    );

    let dom = render(dir, &demo, "teach");
    assert!(dom.contains("<h1>Total = direct + indirect: c = c′ + ab in every data set</h1>"));
    let at = dom
        .find(r#"<table class="decomposition">"#)
        .expect("the table of data sets");
    let table = &dom[at..at + dom[at..].find("</table>").expect("a closed table")];
    assert_eq!(
        table.matches("<tr>").count(),
        1 + 20,
        "a header and one row per data set"
    );
    assert!(dom.contains("<svg"));
}
