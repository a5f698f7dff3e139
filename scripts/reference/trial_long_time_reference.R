# Reference values for balans-trial's long analysis with a leader-by-time variance component
# (crates/trial/src/analyse/leader_time.rs):
#
#   y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee)
#
# the standard model of a pre/post cluster-randomised trial (Teerenstra et al. 2012, Stat Med
# 31:2169; Hooper et al. 2016, Stat Med 35:4718), and the old model without (1 | leader:time)
# that assumes stable leader means.
#
# Data sets (long layout, one row per employee and wave, NA rows dropped):
#   balanced, unbalanced, singular — the wide reference sets of trial_reference.R
#     (tests/reference/data/trial_<name>.csv, outcome fssb), pivoted to long;
#   long_time — simulated here with a strong leader-by-time variance, unbalanced teams (3–15),
#     20% of post rows and 5% of pre rows missing; written to tests/reference/data/trial_long_time.csv;
#   long_near_zero — simulated here with no leader-by-time variance (its estimate is near or on
#     zero), written to tests/reference/data/trial_long_near_zero.csv.
#
# Convergence: each model is fitted by lmerTest::lmer (REML) with bobyqa, rhobeg = 1e-3,
# rhoend = 1e-12, maxfun = 1e5, started at the default fit's theta; then refitted once more
# from that optimum (the second fit moves theta by < 1e-9). A theta that bobyqa leaves below
# 1e-6 is put on the boundary exactly (0) and the others re-minimised there by a second bobyqa
# run on lme4's deviance function, so the reference is the boundary fit itself. The JSON records
# theta, the REML criterion and the max |gradient| of the deviance at theta (numDeriv).
# Satterthwaite df: lmerTest 3.1-3 (summary(ddf = "Satterthwaite")); Kenward-Roger: pbkrtest
# 0.5.2 through lmerTest (summary(ddf = "Kenward-Roger"): adjusted SE and df).
# Run from the repository root:
#   Rscript scripts/reference/trial_long_time_reference.R
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite); library(numDeriv)
})

to_long <- function(d, y = "fssb") {
  emp <- if ("employee" %in% names(d)) d$employee else seq_len(nrow(d))
  long <- rbind(
    data.frame(leader = d$leader, arm = d$arm, employee = emp, time = 0, y = d[[paste0(y, "_pre")]]),
    data.frame(leader = d$leader, arm = d$arm, employee = emp, time = 1, y = d[[paste0(y, "_post")]]))
  long[!is.na(long$y), ]
}

simulate_long <- function(seed, sd_leader_time, J = 24) {
  set.seed(seed)
  sizes <- 3 + sample(0:12, J, replace = TRUE)
  arm_leader <- rep(0:1, length.out = J)[sample(J)]
  rows <- list()
  e <- 0
  for (j in seq_len(J)) {
    a <- rnorm(1, 0, 0.35)
    c <- rnorm(2, 0, sd_leader_time)
    for (i in seq_len(sizes[j])) {
      e <- e + 1
      u <- rnorm(1, 0, 0.6)
      for (t in 0:1) {
        y <- 0.2 * t + 0.3 * t * arm_leader[j] + a + c[t + 1] + u + rnorm(1, 0, 0.7)
        miss <- if (t == 0) 0.05 else 0.2
        if (runif(1) < miss) y <- NA
        rows[[length(rows) + 1]] <- data.frame(leader = j, arm = arm_leader[j], employee = e,
                                               time = t, y = y)
      }
    }
  }
  d <- do.call(rbind, rows)
  d
}

ctrl <- function() lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                               optCtrl = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5))

tight <- function(formula, long) {
  f0 <- lmerTest::lmer(formula, data = long, REML = TRUE)
  f1 <- lmerTest::lmer(formula, data = long, REML = TRUE, control = ctrl(),
                       start = list(theta = getME(f0, "theta")))
  f2 <- lmerTest::lmer(formula, data = long, REML = TRUE, control = ctrl(),
                       start = list(theta = getME(f1, "theta")))
  theta <- getME(f2, "theta")
  small <- theta < 1e-6
  if (any(small)) {
    devf <- lmer(formula, data = long, REML = TRUE, devFunOnly = TRUE)
    sub <- function(t) { th <- numeric(length(theta)); th[!small] <- t; devf(th) }
    o <- minqa::bobyqa(theta[!small], sub, lower = rep(0, sum(!small)),
                       control = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5))
    theta[!small] <- o$par
    theta[small] <- 0
    keep <- function(par, fn, lower, upper, control = list(), ...)
      list(par = par, fval = fn(par), conv = 0, message = "boundary fit")
    f2 <- lmerTest::lmer(formula, data = long, REML = TRUE,
                         control = lmerControl(optimizer = keep, calc.derivs = FALSE),
                         start = list(theta = theta))
  }
  devf <- lmer(formula, data = long, REML = TRUE, devFunOnly = TRUE)
  th <- getME(f2, "theta")
  free <- th > 0
  g <- if (any(free)) grad(function(t) { x <- th; x[free] <- t; devf(x) }, th[free]) else 0
  attr(f2, "max_grad") <- max(abs(g))
  f2
}

rows_of <- function(fit, ddf) {
  s <- summary(fit, ddf = ddf)$coefficients
  data.frame(term = rownames(s), estimate = s[, "Estimate"], std.error = s[, "Std. Error"],
             df = s[, "df"], row.names = NULL)
}

vc <- function(fit) {
  v <- as.data.frame(VarCorr(fit))
  setNames(as.list(v$vcov), v$grp)
}

reference <- function(long) {
  out <- list(n_used = nrow(long), n_leaders = length(unique(long$leader)))
  fl <- tight(y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee), long)
  out$leader_time <- list(
    theta = as.numeric(getME(fl, "theta")), theta_names = names(getME(fl, "theta")),
    satterthwaite = rows_of(fl, "Satterthwaite"), kenward_roger = rows_of(fl, "Kenward-Roger"),
    varcomp = vc(fl), reml_criterion = as.numeric(REMLcrit(fl)), max_grad = attr(fl, "max_grad"))
  fs <- tight(y ~ time * arm + (1 | leader) + (1 | leader:employee), long)
  out$stable_leader <- list(
    theta = as.numeric(getME(fs, "theta")), satterthwaite = rows_of(fs, "Satterthwaite"),
    kenward_roger = rows_of(fs, "Kenward-Roger"), varcomp = vc(fs),
    reml_criterion = as.numeric(REMLcrit(fs)), max_grad = attr(fs, "max_grad"))
  out
}

res <- list(source = "scripts/reference/trial_long_time_reference.R",
            versions = list(lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))))
for (name in c("balanced", "unbalanced", "singular")) {
  d <- read.csv(sprintf("tests/reference/data/trial_%s.csv", name))
  res[[name]] <- reference(to_long(d))
  cat(name, "done\n")
}
for (s in list(list(name = "long_time", seed = 20261208, sd = 0.3),
               list(name = "long_near_zero", seed = 4, sd = 0))) {
  d <- simulate_long(s$seed, s$sd)
  write.csv(d, sprintf("tests/reference/data/trial_%s.csv", s$name), row.names = FALSE, na = "NA")
  r <- reference(d[!is.na(d$y), ])
  r$seed <- s$seed
  res[[s$name]] <- r
  cat(s$name, "done; theta", r$leader_time$theta, "\n")
}
writeLines(toJSON(res, digits = I(15), auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/trial_long_time.json")
