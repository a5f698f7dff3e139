# Reference values for balans-trial's analyses (crates/trial/src/analyse).
#
# Simulates small cluster-randomised pre/post trials (balanced and unbalanced teams, missing post
# values), writes them to tests/reference/data/trial_<name>.csv and the R results to
# tests/reference/trial_<name>.json. Run from the repository root:
#   Rscript scripts/reference/trial_reference.R
#
# Convergence: every random-intercept model is fitted by minimising lme4's profiled REML
# deviance (devFunOnly = TRUE) with optimize(tol = 1e-12), polished by the stationary point of a
# local cubic fit (polish_theta: the deviance is flat to its rounding error near the optimum);
# lmerTest::lmer is then run with an optimizer that keeps that theta (keep_start), so lmerTest's
# Satterthwaite and pbkrtest's Kenward-Roger df are computed at it. The
# two-component long model uses bobyqa with rhoend = 1e-12 started at the default fit's theta.
# Versions: lme4 1.1-31, lmerTest 3.1-3, pbkrtest 0.5.2, clubSandwich 0.5.8, AER 1.2-10.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(clubSandwich)
  library(AER); library(jsonlite)
})

simulate_trial <- function(seed, team_sizes, icc = 0.15, effect = 0.3, miss = 0) {
  set.seed(seed)
  J <- length(team_sizes)
  arm_leader <- rep(0:1, length.out = J)[sample(J)]
  leader <- rep(seq_len(J), team_sizes)
  n <- length(leader)
  arm <- arm_leader[leader]
  u_pre <- rnorm(J, 0, sqrt(icc)); u_post <- 0.6 * u_pre + rnorm(J, 0, sqrt(0.5 * icc))
  fssb_pre <- u_pre[leader] + rnorm(n, 0, sqrt(1 - icc))
  fssb_post <- 0.5 * fssb_pre + u_post[leader] + effect * arm + rnorm(n, 0, 0.8)
  eng_pre <- 0.4 * fssb_pre + rnorm(J, 0, 0.3)[leader] + rnorm(n, 0, 0.9)
  eng_post <- 0.4 * fssb_post + 0.4 * eng_pre + rnorm(J, 0, 0.3)[leader] + rnorm(n, 0, 0.8)
  perf_pre <- 0.35 * eng_pre + rnorm(J, 0, 0.25)[leader] + rnorm(n, 0, 0.9)
  perf_post <- 0.35 * eng_post + 0.4 * perf_pre + rnorm(J, 0, 0.25)[leader] + rnorm(n, 0, 0.85)
  mod <- rbinom(n, 1, 0.5)
  wfc_pre <- -0.3 * fssb_pre + 0.5 * mod + rnorm(J, 0, 0.2)[leader] + rnorm(n, 0, 0.9)
  wfc_post <- 0.5 * wfc_pre - 0.3 * fssb_post + 0.25 * arm * (2 * mod - 1) +
    rnorm(J, 0, 0.2)[leader] + rnorm(n, 0, 0.8)
  took <- rbinom(J, 1, 0.7)
  uptake <- arm * took[leader]
  d <- data.frame(leader = leader, arm = arm, employee = seq_len(n),
                  fssb_pre, fssb_post, wfc_pre, wfc_post, eng_pre, eng_post,
                  perf_pre, perf_post, mod, uptake)
  if (miss > 0) {
    drop <- runif(n) < miss
    for (v in c("fssb_post", "wfc_post", "eng_post", "perf_post")) d[[v]][drop] <- NA
    d$fssb_pre[sample(n, 2)] <- NA
  }
  d
}

# lme4 accepts an optimizer function; this one keeps the start value (optimize's minimum), so
# the returned fit sits exactly at the optimum found with optimize(tol = 1e-12).
keep_start <- function(par, fn, lower, upper, control = list(), ...) {
  list(par = par, fval = fn(par), conv = 0, message = "theta from optimize(tol = 1e-12)")
}

tight_lmer <- function(formula, data) {
  devf <- lmer(formula, data = data, REML = TRUE, devFunOnly = TRUE)
  opt <- optimize(devf, c(0, 20), tol = 1e-12)
  theta <- polish_theta(devf, opt$minimum)
  fit <- lmerTest::lmer(formula, data = data, REML = TRUE,
                        control = lmerControl(optimizer = keep_start, calc.derivs = FALSE),
                        start = list(theta = theta))
  attr(fit, "theta_gap") <- abs(theta - opt$minimum)
  fit
}

# Near its minimum the deviance is flat to its rounding error (|f| eps ~ 1e-13), so a minimiser
# cannot place theta closer than ~sqrt(eps |f| / f'') (up to 1e-6 relative when the ICC is
# small). The stationary point of a cubic least-squares fit of the deviance at 41 points on
# theta +- 3% is not limited by that floor; it is used when it lies inside the window.
polish_theta <- function(devf, theta0) {
  if (theta0 < 1e-4) return(theta0)
  h <- 0.03 * theta0
  th <- seq(theta0 - h, theta0 + h, length.out = 41)
  x <- th - theta0
  co <- coef(lm(sapply(th, devf) ~ x + I(x^2) + I(x^3)))
  r <- Re(polyroot(c(co[[2]], 2 * co[[3]], 3 * co[[4]])))
  r <- r[abs(r) < h]
  if (length(r) != 1) return(theta0)
  theta0 + r
}

coef_rows <- function(tab, est = "Estimate", se = "Std. Error", df = "df") {
  data.frame(term = rownames(tab), estimate = tab[, est], std.error = tab[, se],
             df = tab[, df], row.names = NULL)
}

mixed_rows <- function(fit, ddf) {
  s <- summary(fit, ddf = ddf)$coefficients
  coef_rows(s)
}

vc <- function(fit) {
  v <- as.data.frame(VarCorr(fit))
  setNames(as.list(v$vcov), v$grp)
}

analyse <- function(d) {
  out <- list()
  for (y in c("fssb", "wfc")) {
    dd <- data.frame(leader = d$leader, arm = d$arm, pre = d[[paste0(y, "_pre")]],
                     post = d[[paste0(y, "_post")]], mod = d$mod, uptake = d$uptake)
    cc <- dd[complete.cases(dd[, c("pre", "post")]), ]
    res <- list(n_used = nrow(cc), n_leaders = length(unique(cc$leader)))
    # (a) mixed ANCOVA, REML, Satterthwaite and Kenward-Roger
    fa <- tight_lmer(post ~ arm + pre + (1 | leader), cc)
    res$mixed_satterthwaite <- mixed_rows(fa, "Satterthwaite")
    res$mixed_kr <- mixed_rows(fa, "Kenward-Roger")
    res$mixed_varcomp <- vc(fa)
    res$mixed_reml_criterion <- as.numeric(REMLcrit(fa))
    # default lme4 fit, to show the tight fit's gain
    fdef <- lmerTest::lmer(post ~ arm + pre + (1 | leader), cc)
    res$mixed_default_theta <- as.numeric(getME(fdef, "theta"))
    res$mixed_tight_theta <- as.numeric(getME(fa, "theta"))
    res$mixed_theta_gap_to_optimize <- attr(fa, "theta_gap")
    # (b) OLS + CR2 + Satterthwaite
    fo <- lm(post ~ arm + pre, data = cc)
    ct <- coef_test(fo, vcov = "CR2", cluster = cc$leader, test = "Satterthwaite")
    res$ols_cr2 <- data.frame(term = ct$Coef, estimate = ct$beta, std.error = ct$SE,
                              df = ct$df_Satt)
    # (c) leader means
    m <- aggregate(cbind(post, pre, arm) ~ leader, data = cc, FUN = mean)
    fm <- lm(post ~ arm + pre, data = m)
    sm <- summary(fm)$coefficients
    res$leader_means <- data.frame(term = rownames(sm), estimate = sm[, 1], std.error = sm[, 2],
                                   df = fm$df.residual, row.names = NULL)
    # (e) moderation: arm x mod, columns ordered as balans builds them
    cm <- dd[complete.cases(dd[, c("pre", "post", "mod")]), ]
    cm$mod1 <- as.numeric(cm$mod == 1); cm$armmod1 <- cm$arm * cm$mod1
    fe <- tight_lmer(post ~ arm + pre + mod1 + armmod1 + (1 | leader), cm)
    se <- mixed_rows(fe, "Satterthwaite")
    simple <- do.call(rbind, lapply(list(c(0, 1, 0, 0, 0), c(0, 1, 0, 0, 1)), function(L) {
      r <- contest1D(fe, L, ddf = "Satterthwaite")
      data.frame(estimate = r$Estimate, std.error = r$`Std. Error`, df = r$df)
    }))
    simple$term <- c("arm|mod=0", "arm|mod=1")
    res$moderation <- rbind(se, simple[, c("term", "estimate", "std.error", "df")])
    # (g) CACE: 2SLS, randomisation as instrument, CR2 + Satterthwaite
    fi <- ivreg(post ~ uptake + pre | arm + pre, data = cc)
    ci <- coef_test(fi, vcov = "CR2", cluster = cc$leader, test = "Satterthwaite")
    res$cace <- data.frame(term = ci$Coef, estimate = ci$beta, std.error = ci$SE, df = ci$df_Satt)
    # (h) ICCs (null models of pre and post), d on the pre-test total SD
    fpre <- tight_lmer(pre ~ 1 + (1 | leader), dd[!is.na(dd$pre), ])
    fpost <- tight_lmer(post ~ 1 + (1 | leader), dd[!is.na(dd$post), ])
    res$icc_pre <- vc(fpre); res$icc_post <- vc(fpost); res$icc_adjusted <- res$mixed_varcomp
    res$sd_pre <- sd(dd$pre, na.rm = TRUE)
    res$d <- fixef(fa)[["arm"]] / res$sd_pre
    # baseline balance of the pre-test by arm among completers (post observed)
    comp <- dd[!is.na(dd$post) & !is.na(dd$pre), ]
    res$balance <- list(mean = tapply(comp$pre, comp$arm, mean), sd = tapply(comp$pre, comp$arm, sd),
                        n = as.numeric(table(comp$arm)))
    out[[y]] <- res
  }
  # (d) long layout
  long <- rbind(
    data.frame(leader = d$leader, arm = d$arm, employee = d$employee, time = 0, y = d$fssb_pre),
    data.frame(leader = d$leader, arm = d$arm, employee = d$employee, time = 1, y = d$fssb_post))
  long <- long[!is.na(long$y), ]
  fl0 <- lmerTest::lmer(y ~ time * arm + (1 | leader) + (1 | employee), data = long)
  fl <- lmerTest::lmer(y ~ time * arm + (1 | leader) + (1 | employee), data = long,
                       control = lmerControl(optimizer = "bobyqa",
                                             optCtrl = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5)),
                       start = list(theta = getME(fl0, "theta")))
  out$long <- list(n_used = nrow(long), rows = mixed_rows(fl, "Satterthwaite"), varcomp = vc(fl),
                   reml_criterion = as.numeric(REMLcrit(fl)))
  # (f) leader-level serial mediation arm -> fssb -> eng -> perf, complete rows only
  vars <- c("fssb_pre", "fssb_post", "eng_pre", "eng_post", "perf_pre", "perf_post")
  cmed <- d[complete.cases(d[, vars]), ]
  lm_means <- aggregate(cbind(fssb_pre, fssb_post, eng_pre, eng_post, perf_pre, perf_post, arm) ~ leader,
                        data = cmed, FUN = mean)
  pa <- lm(fssb_post ~ arm + fssb_pre, data = lm_means)
  pd <- lm(eng_post ~ fssb_post + arm + eng_pre, data = lm_means)
  pb <- lm(perf_post ~ eng_post + fssb_post + arm + perf_pre, data = lm_means)
  path <- function(f, term) {
    s <- summary(f)$coefficients
    list(estimate = s[term, 1], std.error = s[term, 2], df = f$df.residual)
  }
  out$mediation <- list(n_used = nrow(cmed), n_leaders = nrow(lm_means),
                        a = path(pa, "arm"), d = path(pd, "fssb_post"), b = path(pb, "eng_post"),
                        indirect = coef(pa)["arm"][[1]] * coef(pd)["fssb_post"][[1]] *
                          coef(pb)["eng_post"][[1]])
  set.seed(99)
  draws <- rnorm(1e6, out$mediation$a$estimate, out$mediation$a$std.error) *
    rnorm(1e6, out$mediation$d$estimate, out$mediation$d$std.error) *
    rnorm(1e6, out$mediation$b$estimate, out$mediation$b$std.error)
  out$mediation$mc_ci <- as.numeric(quantile(draws, c(0.025, 0.975)))
  out$mediation$mc_draws <- 1e6
  out
}

sets <- list(
  balanced = list(seed = 101, sizes = rep(8, 30), miss = 0),
  unbalanced = list(seed = 202, sizes = c(3, 14, 5, 9, 8, 12, 4, 7, 10, 6, 11, 8, 2, 9, 13, 5, 7, 6,
                                          10, 8, 4, 12, 9, 3, 7, 11, 6, 8, 5, 9), miss = 0.25),
  small = list(seed = 303, sizes = c(12, 25, 18, 9, 30, 22, 15, 20, 11, 27, 16, 24), miss = 0.2)
)
for (name in names(sets)) {
  s <- sets[[name]]
  d <- simulate_trial(s$seed, s$sizes, miss = s$miss)
  write.csv(d, sprintf("tests/reference/data/trial_%s.csv", name), row.names = FALSE, na = "NA")
  res <- analyse(d)
  res$source <- "scripts/reference/trial_reference.R"
  writeLines(toJSON(res, digits = I(15), auto_unbox = TRUE, pretty = TRUE),
             sprintf("tests/reference/trial_%s.json", name))
  cat(name, "done\n")
}

# A singular fit: no leader variance in the data-generating model; lme4 puts theta on its
# boundary 0 (isSingular). Reference values at theta = 0 exactly (keep_start), where lmerTest's
# Satterthwaite df reduce to N - p and pbkrtest's Kenward-Roger df stay small.
for (seed in 1:100) {
  set.seed(seed)
  J <- 30; n <- 8; leader <- rep(1:J, each = n); arm <- rep(rep(0:1, length.out = J), each = n)
  pre <- rnorm(J * n); post <- 0.5 * pre + 0.2 * arm + rnorm(J * n)
  d <- data.frame(leader, arm, fssb_pre = pre, fssb_post = post)
  devf <- lmer(fssb_post ~ arm + fssb_pre + (1 | leader), data = d, REML = TRUE, devFunOnly = TRUE)
  if (devf(0) <= optimize(devf, c(0, 20), tol = 1e-12)$objective) break
}
write.csv(d, "tests/reference/data/trial_singular.csv", row.names = FALSE)
fs <- lmerTest::lmer(fssb_post ~ arm + fssb_pre + (1 | leader), data = d,
                     control = lmerControl(optimizer = keep_start, calc.derivs = FALSE),
                     start = list(theta = 0))
sing <- list(seed = seed, theta = as.numeric(getME(fs, "theta")),
             mixed_satterthwaite = mixed_rows(fs, "Satterthwaite"),
             mixed_kr = mixed_rows(fs, "Kenward-Roger"), mixed_varcomp = vc(fs),
             source = "scripts/reference/trial_reference.R")
# the long layout of the same data: lme4 puts the leader variance on its boundary too
long <- rbind(data.frame(leader = d$leader, arm = d$arm, employee = seq_len(nrow(d)), time = 0, y = d$fssb_pre),
              data.frame(leader = d$leader, arm = d$arm, employee = seq_len(nrow(d)), time = 1, y = d$fssb_post))
# bobyqa stops at theta_leader ~ 1e-7; the reference is the boundary itself: theta_leader = 0
# exactly and theta_employee minimising the deviance there (optimize + polish_theta).
devl <- lmer(y ~ time * arm + (1 | leader) + (1 | employee), data = long, REML = TRUE, devFunOnly = TRUE)
dev_emp <- function(t) devl(c(t, 0))   # theta order: employee, leader
t_emp <- polish_theta(dev_emp, optimize(dev_emp, c(0, 10), tol = 1e-12)$minimum)
fl <- lmerTest::lmer(y ~ time * arm + (1 | leader) + (1 | employee), data = long,
                     control = lmerControl(optimizer = keep_start, calc.derivs = FALSE),
                     start = list(theta = c(t_emp, 0)))
sing$long <- list(theta = as.numeric(getME(fl, "theta")), rows = mixed_rows(fl, "Satterthwaite"),
                  varcomp = vc(fl), reml_criterion = as.numeric(REMLcrit(fl)))
sing$mixed_satterthwaite$term <- sub("fssb_", "", sing$mixed_satterthwaite$term)
sing$mixed_kr$term <- sub("fssb_", "", sing$mixed_kr$term)
writeLines(toJSON(sing, digits = I(15), auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/trial_singular.json")
cat("singular done (seed", seed, ")\n")
