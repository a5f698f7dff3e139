# Peer comparison for `cargo xtask peer-trial`: simulation power of the mixed ANCOVA
# post ~ arm + pre + (1 | leader) (REML, lmerTest Satterthwaite df) for a two-arm cluster-randomised
# pre/post trial, with the data-generating model of balans' trial simulator (crates/trial/src/design.rs)
# for an exogenous outcome (FSSB):
#   pre  = sqrt(icc) a0 + sqrt(1 - icc) e0
#   post = sqrt(icc) (r_L a0 + sqrt(1 - r_L^2) u) + sqrt(1 - icc) (r_E e0 + sqrt(1 - r_E^2) v)
#          + arm * (effect + effect_sd * z_leader),
# a0, u, z per leader and e0, v per employee standard normal; posts missing completely at random
# with probability `attrition`.
# Usage: Rscript peer_trial.R J n icc r_E r_L effect effect_sd attrition reps seed alpha out.json
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
a <- commandArgs(trailingOnly = TRUE)
J <- as.integer(a[1]); n <- as.integer(a[2]); icc <- as.numeric(a[3]); rE <- as.numeric(a[4])
rL <- as.numeric(a[5]); effect <- as.numeric(a[6]); esd <- as.numeric(a[7]); att <- as.numeric(a[8])
reps <- as.integer(a[9]); seed <- as.integer(a[10]); alpha <- as.numeric(a[11]); out <- a[12]
set.seed(seed)
one <- function() {
  leader <- rep(seq_len(J), each = n)
  arm_l <- rep(c(0, 1), length.out = J)
  a0 <- rnorm(J); u <- rnorm(J); z <- rnorm(J)
  e0 <- rnorm(J * n); v <- rnorm(J * n)
  arm <- arm_l[leader]
  pre <- sqrt(icc) * a0[leader] + sqrt(1 - icc) * e0
  post <- sqrt(icc) * (rL * a0[leader] + sqrt(1 - rL^2) * u[leader]) +
    sqrt(1 - icc) * (rE * e0 + sqrt(1 - rE^2) * v) + arm * (effect + esd * z[leader])
  post[runif(J * n) < att] <- NA
  d <- data.frame(leader = factor(leader), arm, pre, post)
  fit <- tryCatch(suppressMessages(suppressWarnings(lmer(post ~ arm + pre + (1 | leader), data = d, REML = TRUE))),
                  error = function(e) NULL)
  if (is.null(fit)) return(c(NA, NA, NA))
  p <- summary(fit)$coefficients["arm", "Pr(>|t|)"]
  c(p < alpha, isSingular(fit), 1)
}
t0 <- proc.time()[["elapsed"]]
res <- t(replicate(reps, one()))
secs <- proc.time()[["elapsed"]] - t0
ok <- !is.na(res[, 3])
cat(toJSON(list(power = sum(res[ok, 1]) / reps, fitted = sum(ok), singular = sum(res[ok, 2]),
                reps = reps, seconds_per_replication = secs / reps,
                versions = paste0("lme4 ", packageVersion("lme4"), ", lmerTest ", packageVersion("lmerTest"))),
           auto_unbox = TRUE, digits = NA), file = out)
