# Reference numbers for cluster-robust standard errors (balans fit --cluster; issue 9.8).
# lavaan 0.6-14: sem(model, data, cluster = "team") uses se = "robust.cluster" (sandwich with the
# cluster sums of casewise scores, times G/(G-1)); estimates are ordinary ML.
# Data: tests/reference/data/clustered.csv =
#   balans simulate --builtin seed --n 240 --teams 12 --seed 4 --level scales
# Exact estimates: both models are closed-form ML (equation-by-equation OLS; residual (co)variances
# = crossprod(residuals)/N), which lavaan's optimisers reach only to ~1e-7 (nlminb default; BFGS at
# reltol 1e-20 still leaves a gradient of ~1e-7). So the script computes the exact ML estimates with
# lm(), puts them in the parameter table and lets lavaan evaluate its robust.cluster SEs there
# (optim.method = "none"); `max_abs_gradient` records lavaan's gradient at that point.
# Run from the repository root: Rscript scripts/reference/robust_cluster_reference.R
suppressMessages({library(lavaan); library(jsonlite)})
d <- read.csv("tests/reference/data/clustered.csv")
models <- list(
  mediation = "eng ~ cm + rm\nperf ~ eng + cm\nind := cm_eng*eng_perf",
  seed = paste(
    "wfc ~ es + a1*is + rm + cm", "wfe ~ es + is + a2*rm + cm", "eng ~ es + is + rm + a3*cm",
    "wfc ~~ wfe + eng", "wfe ~~ eng",
    "perf ~ b1*wfc + wfe + b3*eng + es + is + rm + cm",
    "amb ~ wfc + b2*wfe + b4*eng + es + is + rm + cm",
    "ind_is_wfc_perf := a1*b1", "ind_cm_eng_perf := a3*b3", sep = "\n")
)
models$mediation <- "eng ~ cm_eng*cm + rm\nperf ~ eng_perf*eng + cm\nind := cm_eng*eng_perf"
# The exact ML parameter table: OLS per equation, residual (co)variances with denominator N.
exact_partable <- function(fit, d) {
  pt <- parTable(fit)
  eqs <- unique(pt$lhs[pt$op == "~"])
  res <- list()
  for (y in eqs) {
    xs <- pt$rhs[pt$op == "~" & pt$lhs == y]
    l <- lm(reformulate(xs, y), d)
    res[[y]] <- residuals(l)
    for (x in xs) pt$start[pt$op == "~" & pt$lhs == y & pt$rhs == x] <- coef(l)[[x]]
    pt$start[pt$op == "~1" & pt$lhs == y] <- coef(l)[["(Intercept)"]]
  }
  n <- nrow(d)
  for (k in which(pt$op == "~~" & pt$lhs %in% eqs & pt$rhs %in% eqs))
    pt$start[k] <- sum(res[[pt$lhs[k]]] * res[[pt$rhs[k]]]) / n
  pt$est <- pt$start
  pt
}
out <- list()
for (name in names(models)) {
  f0 <- sem(models[[name]], d, cluster = "team")
  f <- sem(models[[name]], d, cluster = "team", start = exact_partable(f0, d), optim.method = "none")
  pe <- parameterEstimates(f)
  pe <- pe[pe$op %in% c("~", "~~", ":=") & !(pe$lhs %in% c("es","is","rm","cm") & pe$op == "~~"), ]
  out[[name]] <- list(
    model = models[[name]],
    se = f@Options$se,
    nclusters = length(unique(d$team)),
    max_abs_gradient = max(abs(lavInspect(f, "gradient"))),
    parameters = pe[, c("lhs", "op", "rhs", "label", "est", "se")]
  )
}
out$lavaan <- as.character(packageVersion("lavaan"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/robust_cluster.json")
