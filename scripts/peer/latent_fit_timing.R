#!/usr/bin/env Rscript
# Times one lavaan sem() fit of the built-in `seed-latent` analysis model (51 items, 9 factors) at
# N = 278, for the speed target of issue 13 (balans: `cargo bench -p balans-benches --bench latent`).
#
#   balans simulate --builtin seed-latent --n 278 --seed 1 > /tmp/seed_latent.csv
#   Rscript scripts/peer/latent_fit_timing.R /tmp/seed_latent.csv
#
# Prints the median wall time of `sem(model, data)` over 20 fits (lavaan computes estimates, SEs
# and the test statistic; fitMeasures() is not called), and with se = "none", test = "none".
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
dat <- dat[, grepl("^(es|is|rm|cm|wfc|wfe|eng|perf|amb)[0-9]+$", names(dat))]
item <- function(f, k) paste0(f, seq_len(k))
fac <- list(es = 4, is = 3, rm = 3, cm = 4, wfc = 5, wfe = 9, eng = 9, perf = 5, amb = 9)
meas <- vapply(names(fac), function(f) paste(f, "=~", paste(item(f, fac[[f]]), collapse = " + ")), "")
model <- paste(c(meas,
  "wfc ~ es + is + rm + cm", "wfe ~ es + is + rm + cm", "eng ~ es + is + rm + cm",
  "wfc ~~ wfe + eng", "wfe ~~ eng",
  "perf ~ wfc + wfe + eng + es + is + rm + cm", "amb ~ wfc + wfe + eng + es + is + rm + cm"),
  collapse = "\n")
time_it <- function(...) {
  invisible(sem(model, data = dat, ...))
  t <- vapply(1:20, function(i) system.time(sem(model, data = dat, ...))[["elapsed"]], 0)
  median(t)
}
full <- time_it()
bare <- time_it(se = "none", test = "none")
fit <- sem(model, data = dat)
cat(sprintf("lavaan %s: npar %d, iterations %d\n", packageVersion("lavaan"),
            as.integer(fitMeasures(fit, "npar")), lavInspect(fit, "iterations")))
cat(sprintf("sem() median %.1f ms; with se = 'none', test = 'none': %.1f ms\n", 1000 * full, 1000 * bare))
