#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# meanstructure_reference.R -- reference numbers from R/lavaan for path models with a mean
# structure (`~ 1`) and equality constraints (shared labels, `a == b`) (issue 20 item 3).
#
# Run from the repository root:
#
#     Rscript scripts/reference/meanstructure_reference.R
#
# Writes tests/reference/data/meanstructure.csv (n = 240, columns x1,x2,m,y; simulated below
#        with set.seed(20261208), numbers written with %.17g and read back before fitting)
#        tests/reference/meanstructure_<case>.json, one per case:
#          intercepts  -- (a) a mediation with `m ~ 1` and `y ~ 1` (saturated mean structure)
#          shared      -- (b) a label shared by two paths (`m ~ c*x1 + c*x2`)
#          equalities  -- (c) `a == b` plus labelled intercepts constrained equal (`i1 == i2`)
#          latent_shared -- shared labels on loadings and residual variances of a two-factor CFA
#                         of tests/reference/data/holzinger.csv (written by lavaan_reference.R)
#
# Convergence: every model is fitted by sem() with control = list(rel.tol = tol) (nlminb) for
# tol in 1e-14, 1e-12, 1e-10, and with optim.method = "BFGS", control = list(reltol = 1e-20)
# (stored as rel.tol = 1e-20); among the fits nlminb reports converged, the one with the smallest
# projected gradient max |K' g| (K = lavaan's eq.constraints.K, g = lavInspect(fit, "gradient");
# K = I without constraints) is kept, and it must be below 1e-8 (printed and stored as
# `max_abs_gradient`). (With `==` constraints nlminb stops with "false convergence" at 1e-14
# and 1e-12 on this data; rel.tol = 1e-10 then reaches |K' g| ~ 1e-8; nlminb stops at ~2e-7 on
# the latent case, BFGS reaches ~1e-9.)
# Deterministic: the only random step is preceded by set.seed().
# -----------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

out_dir  <- file.path("tests", "reference")
data_dir <- file.path(out_dir, "data")
if (!dir.exists("tests") || !file.exists("Cargo.toml"))
  stop("run from the repository root (tests/ or Cargo.toml not found)")

provenance <- list(
  lavaan   = as.character(packageVersion("lavaan")),
  jsonlite = as.character(packageVersion("jsonlite")),
  R        = R.version.string,
  platform = R.version$platform,
  date     = format(Sys.Date()),
  script   = "scripts/reference/meanstructure_reference.R"
)

write_json_file <- function(x, path) {
  txt <- jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, na = "null",
                          null = "null", pretty = TRUE, dataframe = "rows")
  writeLines(txt, path, useBytes = TRUE)
}
named_list <- function(v) {
  l <- as.list(unname(as.numeric(v)))
  names(l) <- names(v)
  l
}

# Data: x1, x2 correlated exogenous; m and y with nonzero means.
set.seed(20261208)
n  <- 240
x1 <- rnorm(n, 1, 1)
x2 <- 0.4 * x1 + rnorm(n, 0.5, 1)
m  <- 0.8 + 0.35 * x1 + 0.3 * x2 + rnorm(n)
y  <- 0.9 + 0.35 * m + 0.2 * x1 + rnorm(n)
df <- data.frame(x1 = x1, x2 = x2, m = m, y = y)
csv <- file.path(data_dir, "meanstructure.csv")
cols <- lapply(df, function(v) sprintf("%.17g", v))
writeLines(c(paste(names(df), collapse = ","), do.call(paste, c(cols, sep = ","))), csv,
           useBytes = TRUE)
df <- utils::read.csv(csv)

CASES <- list(
  intercepts = "
m ~ a*x1 + x2
y ~ b*m + x1
m ~ 1
y ~ 1
ind := a*b
",
  shared = "
m ~ c*x1 + c*x2
y ~ b*m + x1
ind := c*b
",
  equalities = "
m ~ a*x1 + x2
y ~ b*m + x1
m ~ i1*1
y ~ i2*1
a == b
i1 == i2
",
  latent_shared = "
visual =~ x1 + l*x2 + l*x3
textual =~ x4 + t*x5 + t*x6
x2 ~~ v*x2
x3 ~~ v*x3
"
)
DATA_OF <- list(latent_shared = "holzinger.csv")
holz <- utils::read.csv(file.path(data_dir, "holzinger.csv"))

FIT_NAMES <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
               "logl")

for (case in names(CASES)) {
  model <- CASES[[case]]
  data_file <- if (is.null(DATA_OF[[case]])) "meanstructure.csv" else DATA_OF[[case]]
  d <- if (data_file == "holzinger.csv") holz else df
  fit <- NULL
  grad <- Inf
  for (tol in c(1e-14, 1e-12, 1e-10, 1e-20)) {
    f <- suppressWarnings(if (tol > 1e-15) {
      sem(model, data = d, control = list(rel.tol = tol))
    } else {
      sem(model, data = d, optim.method = "BFGS", control = list(reltol = tol, maxit = 10000))
    })
    if (!lavInspect(f, "converged")) next
    g <- lavInspect(f, "gradient")
    K <- if (f@Model@eq.constraints) f@Model@eq.constraints.K else diag(length(g))
    pg <- max(abs(t(K) %*% g))
    if (pg < grad) { fit <- f; grad <- pg; used_tol <- tol }
  }
  stopifnot(!is.null(fit), grad < 1e-8)
  pe <- parameterEstimates(fit, ci = TRUE, level = 0.95)
  pe <- pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper")]
  res <- list(
    case = case,
    data = data_file,
    model = model,
    n = lavInspect(fit, "nobs"),
    options = list(estimator = "ML", meanstructure = lavInspect(fit, "meanstructure"),
                   optim.method = if (used_tol < 1e-15) "BFGS" else "nlminb",
                   rel.tol = used_tol),
    max_abs_gradient = grad,
    parameters = pe,
    fit = named_list(fitMeasures(fit, FIT_NAMES)),
    provenance = provenance
  )
  write_json_file(res, file.path(out_dir, paste0("meanstructure_", case, ".json")))
  cat(sprintf("%-11s rel.tol %g chisq %.6f df %d npar %d  max|K'g| %.2e\n", case, used_tol,
              fitMeasures(fit, "chisq"), as.integer(fitMeasures(fit, "df")),
              as.integer(fitMeasures(fit, "npar")), grad))
}
