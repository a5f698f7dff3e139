# Reference numbers for `balans trial plan` (crates/trial/src/plan.rs).
# PowerUpR is not in Debian, so its cra2r2 formulas are written out here in base R exactly as in
# cran/PowerUpR R/cra2r2.R and R/utils.R (.mdes.fun, .power.fun, mrss iteration); the published
# check mdes.cra2r2(power=.80, rho2=.17, n=15, J=20) = 0.629 [0.183, 1.075], df 18 (PowerUpR
# inst/doc/cross_checks.html) is asserted below, so a transcription error would stop the script.
# Run: Rscript scripts/reference/trial_plan.R > crates/trial/tests/reference/plan.json
library(jsonlite)
sse_cra2r2 <- function(rho2, n, J, p = .5, r21 = 0, r22 = 0)
  sqrt(rho2 * (1 - r22) / (p * (1 - p) * J) + (1 - rho2) * (1 - r21) / (p * (1 - p) * J * n))
mdes_cra2r2 <- function(power = .8, alpha = .05, two.tailed = TRUE, rho2, n, J, p = .5,
                        g2 = 0, r21 = 0, r22 = 0) {
  df <- J - g2 - 2
  sse <- sse_cra2r2(rho2, n, J, p, r21, r22)
  t1 <- ifelse(two.tailed, abs(qt(alpha / 2, df)), abs(qt(alpha, df)))
  t2 <- abs(qt(power, df))
  m <- ifelse(power >= .5, t1 + t2, t1 - t2)
  mdes <- m * sse
  list(mdes = mdes, conf.low = mdes * (1 - t1 / m), conf.high = mdes * (1 + t1 / m), df = df,
       sse = sse)
}
power_cra2r2 <- function(es = .25, alpha = .05, two.tailed = TRUE, rho2, n, J, p = .5, g2 = 0,
                         r21 = 0, r22 = 0) {
  df <- J - g2 - 2
  sse <- sse_cra2r2(rho2, n, J, p, r21, r22)
  lambda <- es / sse
  power <- ifelse(two.tailed == FALSE,
                  1 - pt(qt(alpha, df, lower.tail = FALSE), df, lambda),
                  1 - pt(qt(alpha / 2, df, lower.tail = FALSE), df, lambda) +
                    pt(-qt(alpha / 2, df, lower.tail = FALSE), df, lambda))
  list(power = power, df = df, sse = sse, ncp = lambda)
}
# The smallest whole J whose power reaches the target (exact search with the noncentral t).
leaders_cra2r2 <- function(es, power, alpha = .05, rho2, n, p = .5, g2 = 0, r21 = 0, r22 = 0) {
  J <- g2 + 3
  while (power_cra2r2(es, alpha, TRUE, rho2, n, J, p, g2, r21, r22)$power < power) J <- J + 1
  J
}
m <- mdes_cra2r2(power = .80, rho2 = .17, n = 15, J = 20)
stopifnot(round(m$mdes, 3) == 0.629, round(m$conf.low, 3) == 0.183,
          round(m$conf.high, 3) == 1.075, m$df == 18, round(m$sse, 3) == 0.212)
cases <- list(
  list(name = "powerupr_cross_check", rho2 = .17, n = 15, J = 20, p = .5, g2 = 0, r21 = 0, r22 = 0, es = .629, alpha = .05, target = .8),
  list(name = "hammer_2011_like", rho2 = .10, n = 20, J = 12, p = .5, g2 = 1, r21 = .5, r22 = .5, es = .3, alpha = .05, target = .8),
  list(name = "wfhn_like", rho2 = .05, n = 51, J = 30, p = .5, g2 = 1, r21 = .5, r22 = .5, es = .25, alpha = .05, target = .8),
  list(name = "dutch_single_org", rho2 = .10, n = 9, J = 30, p = .5, g2 = 1, r21 = .5, r22 = .5, es = .25, alpha = .05, target = .8),
  list(name = "dutch_no_covariate", rho2 = .10, n = 9, J = 30, p = .5, g2 = 0, r21 = 0, r22 = 0, es = .25, alpha = .05, target = .8),
  list(name = "unbalanced_alpha10", rho2 = .15, n = 8, J = 40, p = .3, g2 = 2, r21 = .3, r22 = .6, es = .4, alpha = .10, target = .9)
)
out <- lapply(cases, function(c) {
  md <- mdes_cra2r2(power = c$target, alpha = c$alpha, rho2 = c$rho2, n = c$n, J = c$J, p = c$p,
                    g2 = c$g2, r21 = c$r21, r22 = c$r22)
  pw <- power_cra2r2(es = c$es, alpha = c$alpha, rho2 = c$rho2, n = c$n, J = c$J, p = c$p,
                     g2 = c$g2, r21 = c$r21, r22 = c$r22)
  pw1 <- power_cra2r2(es = c$es, alpha = c$alpha, two.tailed = FALSE, rho2 = c$rho2, n = c$n,
                      J = c$J, p = c$p, g2 = c$g2, r21 = c$r21, r22 = c$r22)
  c(c, list(mdes = md$mdes, conf.low = md$conf.low, conf.high = md$conf.high, df = md$df,
            sse = md$sse, power = pw$power, power_one_tailed = pw1$power,
            leaders = leaders_cra2r2(c$es, c$target, c$alpha, c$rho2, c$n, c$p, c$g2, c$r21, c$r22)))
})
grid <- expand.grid(q = c(-3, -0.5, 0, 1.3, 2.1, 4, 9), df = c(1, 3, 10, 28, 200), ncp = c(-2, 0.4, 1.5, 3.2, 8))
grid$cdf <- mapply(function(q, df, ncp) pt(q, df, ncp), grid$q, grid$df, grid$ncp)
qs <- expand.grid(p = c(.025, .2, .8, .9, .975, .995), df = c(1, 3, 10, 28, 200))
qs$q <- mapply(function(p, df) qt(p, df), qs$p, qs$df)
cat(toJSON(list(source = "scripts/reference/trial_plan.R; R base pt/qt; PowerUpR cra2r2 formulas",
                r_version = R.version.string, cases = out, noncentral_t = grid, t_quantiles = qs),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
