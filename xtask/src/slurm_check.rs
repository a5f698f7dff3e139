//! `cargo xtask slurm-check`: a sharded power analysis through a real single-node Slurm, merged to
//! output identical to the single run (issue 24 item 2).
//!
//! Installs Debian's `slurm-wlm` and `munge` when absent, starts munged, slurmctld and slurmd with a
//! throw-away configuration in `target/slurm-check/` (root, no cgroups: `proctrack/linuxproc`,
//! `task/none`), writes the job array with `balans slurm`, submits it with its `submit.sh`, waits for
//! the merge job and compares the merged output with a single run byte for byte. The daemons are
//! stopped at the end.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a shell command, failing with its output when it fails.
fn sh(script: &str, env: &[(&str, &Path)]) -> Result<String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().with_context(|| format!("running: {script}"))?;
    if !o.status.success() {
        bail!(
            "'{script}' failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The configuration of a one-node cluster named after this machine.
fn slurm_conf(dir: &Path, host: &str) -> String {
    let d = dir.display();
    format!(
        "ClusterName=balans\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\n\
ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\n\
SelectTypeParameters=CR_Core_Memory\nSchedulerType=sched/backfill\nStateSaveLocation={d}/state\n\
SlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\nReturnToService=2\nMpiDefault=none\n\
JobCompType=jobcomp/none\nJobAcctGatherType=jobacct_gather/none\n\
NodeName={host} CPUs=2 RealMemory=2000 State=UNKNOWN\nPartitionName=check Nodes={host} Default=YES MaxTime=INFINITE State=UP\n"
    )
}

/// Starts munge and the two Slurm daemons; waits until the node is idle.
fn start(dir: &Path, conf: &Path) -> Result<()> {
    sh("command -v slurmctld >/dev/null && command -v munged >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge)", &[])?;
    sh(
        "test -s /etc/munge/munge.key || mungekey --create --force",
        &[],
    )?;
    sh(
        "mkdir -p /run/munge && (pgrep -x munged >/dev/null || munged --force --num-threads=10)",
        &[],
    )?;
    std::fs::create_dir_all(dir.join("state"))?;
    std::fs::create_dir_all(dir.join("spool"))?;
    sh("pkill -x slurmctld; pkill -x slurmd; sleep 1; slurmctld -f \"$SLURM_CONF\" && slurmd -f \"$SLURM_CONF\"", &[("SLURM_CONF", conf)])?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if sh("sinfo -h -o %T", &[("SLURM_CONF", conf)]).is_ok_and(|s| s.trim() == "idle") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "the Slurm node did not become idle within 60 s (logs in {})",
        dir.display()
    )
}

/// Runs the check.
pub fn run(_args: &[String]) -> Result<()> {
    let root = crate::repo_root();
    sh(
        &format!("cd {} && cargo build -q -p balans-cli", root.display()),
        &[],
    )?;
    let balans: PathBuf = root.join("target/debug/balans");
    let dir = root.join("target/slurm-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let host = sh("hostname -s", &[])?.trim().to_string();
    let conf = dir.join("slurm.conf");
    std::fs::write(&conf, slurm_conf(&dir, &host))?;
    start(&dir, &conf)?;
    let power = "power --builtin seed --n 100,200 --reps 1000 --seed 7 --tests joint,sobel";
    let single = dir.join("single.txt");
    sh(
        &format!("{} {power} --out {}", balans.display(), single.display()),
        &[],
    )?;
    let job = dir.join("job");
    let merged = dir.join("merged.txt");
    sh(
        &format!(
            "{} slurm --shards 4 --dir {} -- {power} --out {}",
            balans.display(),
            job.display(),
            merged.display()
        ),
        &[],
    )?;
    sh(
        &format!("sh {}/submit.sh", job.display()),
        &[("SLURM_CONF", &conf)],
    )?;
    let started = Instant::now();
    while !merged.exists() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = sh(
        "scancel -u root; pkill -x slurmd; pkill -x slurmctld",
        &[("SLURM_CONF", &conf)],
    );
    if !merged.exists() {
        bail!(
            "the merge job wrote nothing within 300 s (logs in {}/logs)",
            job.display()
        );
    }
    if std::fs::read(&single)? != std::fs::read(&merged)? {
        bail!(
            "the merged output {} differs from the single run {}",
            merged.display(),
            single.display()
        );
    }
    println!(
        "slurm-check: 4 array tasks and the dependent merge job ran through Slurm; {} equals the single run byte for byte",
        merged.display()
    );
    Ok(())
}
