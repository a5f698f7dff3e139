#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# lavaan_reference.R -- reference numbers from R/lavaan for the balans test-suite
#
# Run from the repository root:
#
#     Rscript scripts/reference/lavaan_reference.R
#
# Writes (all under tests/reference/):
#   data/sim_seed.csv, data/sim_mediation.csv,
#   data/political_democracy.csv, data/holzinger.csv      -- input data sets
#   <case>.json (one per fitted model, see CASES below)     -- reference output
#   formula_checks.json                                     -- numerical checks
#                                                              of the formulas
#                                                              lavaan uses
#   timing.json                                             -- R timing of one
#                                                              sem() fit
# NOTES.md (hand-written) documents everything.
#
# Requirements: R >= 4, lavaan (0.6-14 used), semTools (0.5-6 used), jsonlite.
# Deterministic: every random step is preceded by an explicit set.seed().
# Only timing.json changes between runs (wall-clock numbers and date).
# -----------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})

out_dir  <- file.path("tests", "reference")
data_dir <- file.path(out_dir, "data")
if (!dir.exists("tests") || !file.exists("Cargo.toml"))
  stop("run from the repository root (tests/ or Cargo.toml not found)")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

# Bootstrap / Monte Carlo settings (requested by the brief).
N_BOOT   <- 2000L
N_MC     <- 200000L
# BALANS_REF_QUICK=1 skips the (slow) bootstrap / Monte Carlo parts (debugging only:
# the case JSONs are then written WITHOUT the resampling sections).
DO_RESAMPLING <- !identical(Sys.getenv("BALANS_REF_QUICK"), "1")

provenance <- list(
  lavaan    = as.character(packageVersion("lavaan")),
  semTools  = as.character(packageVersion("semTools")),
  jsonlite  = as.character(packageVersion("jsonlite")),
  R         = R.version.string,
  platform  = R.version$platform,
  date      = format(Sys.Date()),
  script    = "scripts/reference/lavaan_reference.R"
)

# ---------------------------------------------------------------- helpers ----

# Write a data.frame as CSV with full (round-trip) double precision:
# header row, comma separated, '.' decimal, no row names, no quotes.
write_csv_exact <- function(df, path) {
  cols <- lapply(df, function(v) sprintf("%.17g", as.numeric(v)))
  lines <- c(paste(names(df), collapse = ","),
             do.call(paste, c(cols, sep = ",")))
  writeLines(lines, path, useBytes = TRUE)
  # Read it back: all fits below use the read-back data so that R and Rust see
  # bit-identical inputs.
  back <- utils::read.csv(path, header = TRUE)
  stopifnot(identical(dim(back), dim(df)),
            isTRUE(all(as.matrix(back) == as.matrix(df))))
  back
}

write_json_file <- function(x, path) {
  txt <- jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, na = "null",
                          null = "null", pretty = TRUE, dataframe = "rows",
                          matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
}

named_list <- function(v) {
  # named numeric vector -> JSON object (NA -> null)
  l <- as.list(unname(as.numeric(v)))
  names(l) <- names(v)
  l
}

mat_rows <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(as.numeric(m[i, ]))))

FIT_NAMES <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
               "rmsea.ci.upper", "rmsea.pvalue", "srmr", "logl",
               "unrestricted.logl", "aic", "bic", "npar", "baseline.chisq",
               "baseline.df")
# Extra measures, handy for debugging differences.
FIT_EXTRA <- c("fmin", "ntotal", "baseline.pvalue", "nnfi", "rfi", "nfi", "ifi",
               "rni", "bic2", "rmsea.ci.level", "rmsea.close.h0",
               "rmsea.notclose.pvalue", "rmsea.notclose.h0", "rmr",
               "srmr_bentler", "srmr_bentler_nomean", "srmr_mplus", "crmr",
               "gfi", "agfi")

PE_COLS <- c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue",
             "ci.lower", "ci.upper", "std.all")
PT_COLS <- c("id", "lhs", "op", "rhs", "user", "block", "group", "free",
             "ustart", "exo", "label", "plabel", "est", "se")

# Everything the Rust side needs from one fitted model.
describe_fit <- function(case, data_file, model, fit, note = NULL) {
  stopifnot(lavInspect(fit, "converged"))
  pe <- parameterEstimates(fit, ci = TRUE, level = 0.95, standardized = TRUE)
  if (is.null(pe$label)) pe$label <- ""
  pe <- as.data.frame(pe)[, PE_COLS]
  pt <- as.data.frame(parTable(fit))[, PT_COLS]
  S   <- lavInspect(fit, "sampstat")$cov        # N-denominator sample cov
  Sig <- fitted(fit)$cov                        # model-implied cov
  V   <- lavInspect(fit, "vcov")                # vcov of free parameters
  out <- list(
    case        = case,
    data        = data_file,
    model       = model,
    n           = lavInspect(fit, "nobs"),
    options     = list(estimator = lavInspect(fit, "options")$estimator,
                       likelihood = lavInspect(fit, "options")$likelihood,
                       information = lavInspect(fit, "options")$information[1],
                       fixed.x = lavInspect(fit, "options")$fixed.x,
                       meanstructure = lavInspect(fit, "meanstructure"),
                       se = lavInspect(fit, "options")$se),
    converged   = lavInspect(fit, "converged"),
    iterations  = lavInspect(fit, "iterations"),
    parameters  = pe,
    fit         = named_list(fitMeasures(fit, FIT_NAMES)),
    fit_extra   = named_list(fitMeasures(fit, FIT_EXTRA)),
    r2          = named_list(lavInspect(fit, "r2")),
    sample_cov_names  = colnames(S),
    sample_cov        = mat_rows(S),
    implied_cov_names = colnames(Sig),
    implied_cov       = mat_rows(Sig),
    vcov_names  = colnames(V),
    vcov        = mat_rows(V),
    partable    = pt,
    provenance  = provenance
  )
  if (!is.null(note)) out$note <- note
  out
}

# Bootstrap + Monte Carlo intervals for the := parameters of a model.
resampling_intervals <- function(model, data) {
  fit <- sem(model, data = data)
  # Monte Carlo CI (semTools), all := parameters of the model.
  set.seed(1)
  mc <- as.data.frame(semTools::monteCarloCI(fit, nRep = N_MC, level = 0.95))
  mc_list <- lapply(rownames(mc), function(nm)
    list(name = nm, est = mc[nm, "est"], lower = mc[nm, "ci.lower"],
         upper = mc[nm, "ci.upper"]))
  # Nonparametric bootstrap (ordinary, resampling rows), 2000 draws.
  set.seed(1)
  bfit <- sem(model, data = data, se = "bootstrap", bootstrap = N_BOOT)
  boot_ok <- nrow(lavInspect(bfit, "boot"))
  grab <- function(type) {
    pe <- parameterEstimates(bfit, ci = TRUE, level = 0.95, boot.ci.type = type)
    pe <- pe[pe$op == ":=", ]
    lapply(seq_len(nrow(pe)), function(i)
      list(name = pe$lhs[i], est = pe$est[i], se = pe$se[i],
           lower = pe$ci.lower[i], upper = pe$ci.upper[i]))
  }
  list(
    monte_carlo_ci = list(nRep = N_MC, level = 0.95, seed = 1L,
                          call = sprintf("set.seed(1); semTools::monteCarloCI(fit, nRep = %d, level = .95)", N_MC),
                          intervals = mc_list),
    bootstrap_percentile = list(R = N_BOOT, R_successful = boot_ok, seed = 1L,
                                boot.ci.type = "perc",
                                note = "se = SD of the bootstrap draws",
                                intervals = grab("perc")),
    bootstrap_bc = list(R = N_BOOT, R_successful = boot_ok, seed = 1L,
                        boot.ci.type = "bca.simple",
                        note = "bias-corrected (no acceleration); se = SD of the bootstrap draws",
                        intervals = grab("bca.simple"))
  )
}

# ------------------------------------------------------------------ data -----

# (1) Study model, simulated.  Population values used as FIXED values in
#     simulateData (standardized = FALSE: exogenous variances 1, correlations
#     .7, endogenous residual variances 1 -- lavaan's simulateData default).
#     standardized = TRUE cannot be used: it refuses the residual covariances
#     (it zeroes the residual variances first and then fails on
#     'please provide better fixed values for (co)variances').
POP_SEED_MODEL <- '
  es ~~ 1*es + 0.7*is + 0.7*rm + 0.7*cm
  is ~~ 1*is + 0.7*rm + 0.7*cm
  rm ~~ 1*rm + 0.7*cm
  cm ~~ 1*cm
  wfc ~ -0.05*es + -0.22*is + -0.03*rm + -0.03*cm
  wfe ~ 0.05*es + 0.05*is + 0.28*rm + 0.10*cm
  eng ~ 0.05*es + 0.05*is + 0.10*rm + 0.28*cm
  wfc ~~ -0.15*wfe
  wfc ~~ -0.15*eng
  wfe ~~ 0.25*eng
  perf ~ -0.15*wfc + 0.05*wfe + 0.35*eng + 0*es + 0*is + 0*rm + 0*cm
  amb ~ 0*wfc + 0.15*wfe + 0.40*eng
'
set.seed(20261125)
sim_seed <- simulateData(POP_SEED_MODEL, sample.nobs = 278L, standardized = FALSE)
sim_seed <- sim_seed[, c("es", "is", "rm", "cm", "wfc", "wfe", "eng", "perf", "amb")]
sim_seed <- write_csv_exact(sim_seed, file.path(data_dir, "sim_seed.csv"))

# (2) Simple mediation x -> m -> y with direct path; unit variances.
POP_MED_MODEL <- '
  x ~~ 1*x
  m ~ 0.4*x
  y ~ 0.35*m + 0.1*x
  m ~~ 1*m
  y ~~ 1*y
'
set.seed(20261125)
sim_med <- simulateData(POP_MED_MODEL, sample.nobs = 200L, standardized = FALSE)
sim_med <- sim_med[, c("x", "m", "y")]
sim_med <- write_csv_exact(sim_med, file.path(data_dir, "sim_mediation.csv"))

# (3) Classic data sets shipped with lavaan.
poldem <- lavaan::PoliticalDemocracy[, c(paste0("y", 1:8), paste0("x", 1:3))]
poldem <- write_csv_exact(poldem, file.path(data_dir, "political_democracy.csv"))

holz <- lavaan::HolzingerSwineford1939[, paste0("x", 1:9)]
holz <- write_csv_exact(holz, file.path(data_dir, "holzinger.csv"))

DATA <- list(sim_seed.csv = sim_seed, sim_mediation.csv = sim_med,
             political_democracy.csv = poldem, holzinger.csv = holz)

# ---------------------------------------------------------------- models -----

CASES <- list(
  mediation_simple = list(
    data = "sim_mediation.csv",
    model = "m ~ a*x\n y ~ b*m + c*x\n ind := a*b\n total := c + a*b",
    resampling = TRUE),

  seed_paths = list(
    data = "sim_seed.csv",
    model = paste(
      "wfc ~ a1*is + es + rm + cm",
      "wfe ~ a2*rm + es + is + cm",
      "eng ~ a3*cm + es + is + rm",
      "perf ~ b1*wfc + wfe + b3*eng + es + is + rm + cm",
      "amb ~ wfc + b2*wfe + b4*eng",
      "wfc ~~ wfe",
      "wfc ~~ eng",
      "wfe ~~ eng",
      "ind_is_wfc_perf := a1*b1",
      "ind_cm_eng_perf := a3*b3",
      "ind_rm_wfe_amb := a2*b2",
      sep = "\n"),
    resampling = TRUE,
    note = "perf ~~ amb is NOT in the model text: lavaan adds it (auto.cov.y, both are terminal outcomes)."),

  parallel_mediators = list(
    data = "sim_seed.csv",
    model = paste(
      "wfc ~ a1*is",
      "eng ~ a2*is",
      "perf ~ b1*wfc + b2*eng + c*is",
      "ind1 := a1*b1",
      "ind2 := a2*b2",
      "diff := ind1 - ind2",
      sep = "\n"),
    note = "No wfc ~~ eng: mediators are predictors, so auto.cov.y does not correlate them (df = 1)."),

  serial_mediators = list(
    data = "sim_seed.csv",
    model = paste(
      "wfe ~ a1*rm",
      "eng ~ d*wfe + a2*rm",
      "amb ~ b1*wfe + b2*eng + c*rm",
      "serial := a1*d*b2",
      sep = "\n")),

  correlated_residuals_diff_predictors = list(
    data = "political_democracy.csv",
    model = "y1 ~ x1 + x2\n y5 ~ x1 + x3\n y1 ~~ y5"),

  overidentified = list(
    data = "political_democracy.csv",
    model = "y1 ~ x1\n y2 ~ y1\n y3 ~ y2 + x2"),

  holzinger_path = list(
    data = "holzinger.csv",
    model = paste(
      "x4 ~ a1*x1 + a2*x2",
      "x5 ~ b1*x4 + x3",
      "x9 ~ c1*x5 + c2*x4",
      "ind_x1_x9 := a1*b1*c1 + a1*c2",
      "ind_x4_x5_x9 := b1*c1",
      "total_x4_x9 := c2 + b1*c1",
      sep = "\n")),

  auto_cov_y_probe = list(
    data = "sim_seed.csv",
    model = "wfc ~ is\n eng ~ cm\n perf ~ wfc + eng\n amb ~ eng",
    note = paste("lavaan adds free perf ~~ amb (user = 0): the only pair of observed",
                 "variables that are on the lhs of ~ but never on the rhs of ~.",
                 "wfc and eng are endogenous but also predictors, so no wfc ~~ eng,",
                 "and no covariance between a terminal outcome and a mediator.",
                 "is ~~ is, is ~~ cm, cm ~~ cm are added with free = 0, exo = 1",
                 "(fixed to the N-denominator sample values, fixed.x = TRUE)."))
)

# ------------------------------------------------------------------ fits -----

FITS <- list()
for (case in names(CASES)) {
  cs  <- CASES[[case]]
  dat <- DATA[[cs$data]]
  fit <- sem(cs$model, data = dat)
  FITS[[case]] <- fit
  res <- describe_fit(case, cs$data, cs$model, fit, note = cs$note)
  # lavaan's default optimiser (nlminb) stops at a relative objective tolerance that leaves
  # iteratively fitted estimates about 1e-7 from the optimum. For digit-level comparisons the same
  # model is refitted with BFGS at a far tighter tolerance: `parameters_tight` are lavaan's estimates
  # at (numerically) full convergence; `parameters` are the defaults users see.
  tfit <- sem(cs$model, data = dat, optim.method = "BFGS",
              control = list(reltol = 1e-20, maxit = 10000))
  stopifnot(lavInspect(tfit, "converged"))
  tpe <- as.data.frame(parameterEstimates(tfit, standardized = TRUE))
  if (is.null(tpe$label)) tpe$label <- ""
  res$parameters_tight <- tpe[, c("lhs", "op", "rhs", "label", "est", "se", "std.all")]
  res$tight_options <- "sem(model, data, optim.method = 'BFGS', control = list(reltol = 1e-20, maxit = 10000))"
  res$tight_max_abs_gradient <- max(abs(lavInspect(tfit, "gradient")))
  if (isTRUE(cs$resampling) && DO_RESAMPLING) {
    res <- c(res, resampling_intervals(cs$model, dat))
  }
  write_json_file(res, file.path(out_dir, paste0(case, ".json")))
  cat(sprintf("%-40s chisq = %10.5f  df = %2d  npar = %2d  iter = %3d\n", case,
              fitMeasures(fit, "chisq"), as.integer(fitMeasures(fit, "df")),
              as.integer(fitMeasures(fit, "npar")), lavInspect(fit, "iterations")))
}

# Extra auto.cov.y probes (written to formula_checks.json, documented in NOTES.md).
probe_pt <- function(model, data, ...) {
  pt <- parTable(sem(model, data = data, ...))
  pt <- pt[pt$op == "~~", c("lhs", "op", "rhs", "user", "free", "exo")]
  rownames(pt) <- NULL
  pt
}
AUTO_PROBES <- list(
  # base probe (same as auto_cov_y_probe.json)
  base = probe_pt(CASES$auto_cov_y_probe$model, sim_seed),
  # user writes a (co)variance of an exogenous x: x loses its 'exogenous'
  # status -> free variance/covariances (lavaan warns)
  user_cov_on_x = suppressWarnings(probe_pt("wfc ~ is + cm\n perf ~ wfc\n is ~~ cm", sim_seed)),
  # three terminal outcomes -> all three pairs
  three_terminal = probe_pt("wfc ~ is\n perf ~ wfc\n amb ~ wfc\n eng ~ is", sim_seed),
  # auto.cov.y = FALSE switches it off
  auto_cov_y_false = probe_pt(CASES$auto_cov_y_probe$model, sim_seed, auto.cov.y = FALSE),
  # fixed.x = FALSE: x (co)variances become free parameters (exo = 0 in 0.6-14? see table)
  fixed_x_false = probe_pt(CASES$auto_cov_y_probe$model, sim_seed, fixed.x = FALSE)
)

# ------------------------------------------------------- formula checks -----
# Verify, numerically, the formulas lavaan uses.  Results -> formula_checks.json.

logdet <- function(M) as.numeric(determinant(M, logarithm = TRUE)$modulus)

check_fit <- function(fit) {
  S   <- lavInspect(fit, "sampstat")$cov
  Sig <- fitted(fit)$cov
  N   <- lavInspect(fit, "nobs")
  p   <- nrow(S)
  fm  <- fitMeasures(fit)
  Si  <- solve(Sig)
  F_ML <- logdet(Sig) + sum(diag(S %*% Si)) - logdet(S) - p
  chisq_formula <- N * F_ML                          # = 2 * N * fmin
  logl_formula  <- -N / 2 * (p * log(2 * pi) + logdet(Sig) + sum(diag(S %*% Si)))
  ulogl_formula <- -N / 2 * (p * log(2 * pi) + logdet(S) + p)
  # With fixed.x = TRUE lavaan reports the likelihood of y | x: the joint
  # normal loglik minus the marginal loglik of the x's evaluated at S_xx
  # (which is constant, the x block being fixed at its sample values).
  xn <- lavNames(fit, "ov.x")
  q  <- length(xn)
  logl_x <- if (q > 0) -N / 2 * (q * log(2 * pi) + logdet(S[xn, xn, drop = FALSE]) + q) else 0
  logl_cond  <- logl_formula - logl_x
  ulogl_cond <- ulogl_formula - logl_x
  npar <- fm[["npar"]]
  Xb <- fm[["baseline.chisq"]]; dfb <- fm[["baseline.df"]]
  aic_formula <- -2 * logl_cond + 2 * npar
  bic_formula <- -2 * logl_cond + npar * log(N)
  # Baseline (independence) model under fixed.x: Sigma_b = diag(S_yy) (+) S_xx,
  # y's uncorrelated with each other and with the x's; df_b = p(p+1)/2 - q(q+1)/2 - (p - q)
  Sb <- diag(diag(S)); dimnames(Sb) <- dimnames(S)
  if (q > 0) Sb[xn, xn] <- S[xn, xn]
  base_chisq_formula <- N * (logdet(Sb) + sum(diag(S %*% solve(Sb))) - logdet(S) - p)
  base_df_formula <- p * (p + 1) / 2 - q * (q + 1) / 2 - (p - q)
  X2 <- fm[["chisq"]]; df <- fm[["df"]]
  rmsea_N   <- if (df > 0) sqrt(max((X2 - df) / (df * N), 0)) else 0
  rmsea_Nm1 <- if (df > 0) sqrt(max((X2 - df) / (df * (N - 1)), 0)) else 0
  rmsea_p_close <- if (df > 0) 1 - pchisq(X2, df, ncp = N * df * 0.05^2) else NA
  # RMSEA 90% CI: invert the noncentral chi-square in lambda, RMSEA = sqrt(lambda/(N*df))
  ci_lambda <- function(prob) {
    f <- function(l) pchisq(X2, df, ncp = l) - prob
    if (df <= 0 || f(0) < 0) return(0)
    uniroot(f, c(0, max(10 * X2, 100)), tol = 1e-12)$root
  }
  rmsea_ci_lower_formula <- if (df > 0) sqrt(ci_lambda(0.95) / (N * df)) else NA
  rmsea_ci_upper_formula <- if (df > 0) sqrt(ci_lambda(0.05) / (N * df)) else NA
  # baseline: independence model for the y's, x-block fixed (fixed.x = TRUE)
  cfi_formula <- 1 - max(X2 - df, 0) / max(X2 - df, Xb - dfb, 0)
  tli_formula <- if (df > 0) (Xb / dfb - X2 / df) / (Xb / dfb - 1) else 1
  # SRMR (Bentler): residuals of correlations, each matrix standardised by its own diagonal
  R_s <- cov2cor(S); R_h <- cov2cor(Sig)
  lt <- lower.tri(S, diag = TRUE)
  srmr_cor   <- sqrt(mean((R_s - R_h)[lt]^2))
  # alternative: covariance residuals scaled by the sample sds only
  sd_s <- sqrt(diag(S))
  srmr_sonly <- sqrt(mean(((S - Sig) / outer(sd_s, sd_s))[lt]^2))
  # expected information with N: vcov = (N * I1)^-1, I1 = 1/2 tr(S^-1 dS_i S^-1 dS_j)
  lm <- fit@Model
  x0 <- lavaan:::lav_model_get_parameters(lm)
  sigma_of <- function(x) lavaan:::computeSigmaHat(lavaan:::lav_model_set_parameters(lm, x))[[1]]
  h <- 1e-6
  dS <- lapply(seq_along(x0), function(i) {
    xp <- x0; xm <- x0; xp[i] <- xp[i] + h; xm[i] <- xm[i] - h
    (sigma_of(xp) - sigma_of(xm)) / (2 * h)
  })
  S0i <- solve(sigma_of(x0))
  k <- length(x0)
  I1 <- matrix(0, k, k)
  for (i in 1:k) for (j in 1:k)
    I1[i, j] <- 0.5 * sum(diag(S0i %*% dS[[i]] %*% S0i %*% dS[[j]]))
  V_N   <- solve(N * I1)
  V_Nm1 <- solve((N - 1) * I1)
  V_lav <- unclass(lavInspect(fit, "vcov"))
  list(
    n = N, p = p,
    fmin_lavaan = fm[["fmin"]], F_ML_half = F_ML / 2,
    chisq_lavaan = X2, chisq_N_FML = chisq_formula,
    logl_lavaan = fm[["logl"]], logl_formula = logl_formula,
    unrestricted_logl_lavaan = fm[["unrestricted.logl"]], unrestricted_logl_formula = ulogl_formula,
    logl_x_marginal = logl_x, logl_conditional_formula = logl_cond,
    unrestricted_logl_conditional_formula = ulogl_cond,
    baseline_chisq_lavaan = Xb, baseline_chisq_formula = base_chisq_formula,
    baseline_df_lavaan = dfb, baseline_df_formula = base_df_formula,
    aic_lavaan = fm[["aic"]], aic_formula = aic_formula,
    bic_lavaan = fm[["bic"]], bic_formula = bic_formula,
    rmsea_lavaan = fm[["rmsea"]], rmsea_N = rmsea_N, rmsea_Nminus1 = rmsea_Nm1,
    rmsea_ci_lower_lavaan = fm[["rmsea.ci.lower"]], rmsea_ci_lower_formula = rmsea_ci_lower_formula,
    rmsea_ci_upper_lavaan = fm[["rmsea.ci.upper"]], rmsea_ci_upper_formula = rmsea_ci_upper_formula,
    rmsea_pvalue_lavaan = fm[["rmsea.pvalue"]], rmsea_pclose_05 = rmsea_p_close,
    cfi_lavaan = fm[["cfi"]], cfi_formula = cfi_formula,
    tli_lavaan = fm[["tli"]], tli_formula = tli_formula,
    srmr_lavaan = fm[["srmr"]], srmr_bentler_lavaan = fm[["srmr_bentler"]],
    srmr_mplus_lavaan = fm[["srmr_mplus"]],
    srmr_corr_residual_formula = srmr_cor, srmr_sample_sd_scaled_formula = srmr_sonly,
    vcov_maxabsdiff_expected_info_N = max(abs(V_lav - V_N)),
    vcov_maxabsdiff_expected_info_Nminus1 = max(abs(V_lav - V_Nm1)),
    vcov_max_abs = max(abs(V_lav))
  )
}

CHECKS <- lapply(FITS, check_fit)

# Closed-form checks on mediation_simple (just-identified, fixed.x):
# OLS coefficients, ML residual variance (divide by N), SE = sqrt(psi * diag((N*Sxx)^-1)).
fm <- FITS$mediation_simple
pe <- parameterEstimates(fm)
S  <- lavInspect(fm, "sampstat")$cov; N <- nrow(sim_med)
get <- function(l, o, r) pe[pe$lhs == l & pe$op == o & pe$rhs == r, ]
a  <- S["m", "x"] / S["x", "x"]
psi_m <- S["m", "m"] - a^2 * S["x", "x"]
Sxx2 <- S[c("m", "x"), c("m", "x")]
bc <- solve(Sxx2, S[c("m", "x"), "y"])
psi_y <- S["y", "y"] - sum(bc * S[c("m", "x"), "y"])
se_a  <- sqrt(psi_m / (N * S["x", "x"]))
se_bc <- sqrt(psi_y * diag(solve(N * Sxx2)))
V <- lavInspect(fm, "vcov")
g <- c(a = bc[["m"]], b = a)                   # gradient of a*b wrt (a, b)
se_ind_delta <- sqrt(drop(t(g) %*% V[c("a", "b"), c("a", "b")] %*% g))
ind_row <- pe[pe$op == ":=" & pe$lhs == "ind", ]
# std.all checks
sd_h <- sqrt(diag(fitted(fm)$cov))
std_b <- bc[["m"]] * sd_h[["m"]] / sd_h[["y"]]
CHECKS$mediation_simple_closed_form <- list(
  a_lavaan = get("m", "~", "x")$est, a_ols = a,
  b_lavaan = get("y", "~", "m")$est, b_ols = bc[["m"]],
  c_lavaan = get("y", "~", "x")$est, c_ols = bc[["x"]],
  psi_m_lavaan = get("m", "~~", "m")$est, psi_m_ml = psi_m,
  psi_y_lavaan = get("y", "~~", "y")$est, psi_y_ml = psi_y,
  se_a_lavaan = get("m", "~", "x")$se, se_a_formula_N = se_a,
  se_a_formula_Nminus1 = sqrt(psi_m / ((N - 1) * S["x", "x"])),
  se_b_lavaan = get("y", "~", "m")$se, se_b_formula_N = se_bc[[1]],
  se_c_lavaan = get("y", "~", "x")$se, se_c_formula_N = se_bc[[2]],
  se_resvar_m_lavaan = get("m", "~~", "m")$se, se_resvar_m_formula = psi_m * sqrt(2 / N),
  se_ind_lavaan = ind_row$se, se_ind_delta_formula = se_ind_delta,
  ci_ind_lavaan = c(ind_row$ci.lower, ind_row$ci.upper),
  ci_ind_formula = ind_row$est + c(-1, 1) * qnorm(0.975) * ind_row$se,
  pvalue_ind_formula = 2 * pnorm(-abs(ind_row$est / ind_row$se)), pvalue_ind_lavaan = ind_row$pvalue,
  std_all_b_lavaan = parameterEstimates(fm, standardized = TRUE)[2, "std.all"],
  std_all_b_formula = std_b
)

# std.all of residual covariances and of fixed exogenous covariances (seed_paths)
fs <- FITS$seed_paths
ps <- parameterEstimates(fs, standardized = TRUE)
r  <- function(l, o, rr) ps[ps$lhs == l & ps$op == o & ps$rhs == rr, ]
Ss <- lavInspect(fs, "sampstat")$cov
CHECKS$seed_paths_std_all <- list(
  wfc_wfe_std_all_lavaan = r("wfc", "~~", "wfe")$std.all,
  wfc_wfe_residual_correlation = r("wfc", "~~", "wfe")$est /
    sqrt(r("wfc", "~~", "wfc")$est * r("wfe", "~~", "wfe")$est),
  perf_amb_std_all_lavaan = r("perf", "~~", "amb")$std.all,
  perf_amb_residual_correlation = r("perf", "~~", "amb")$est /
    sqrt(r("perf", "~~", "perf")$est * r("amb", "~~", "amb")$est),
  wfc_resvar_std_all_lavaan = r("wfc", "~~", "wfc")$std.all,
  wfc_resvar_over_implied_var = r("wfc", "~~", "wfc")$est / fitted(fs)$cov["wfc", "wfc"],
  es_is_std_all_lavaan = r("is", "~~", "es")$std.all,
  es_is_sample_correlation = Ss["es", "is"] / sqrt(Ss["es", "es"] * Ss["is", "is"]),
  es_is_est_lavaan = r("is", "~~", "es")$est, es_is_sample_cov_N = Ss["es", "is"],
  es_is_sample_cov_Nminus1 = cov(sim_seed$es, sim_seed$is),
  r2_wfc_lavaan = lavInspect(fs, "r2")[["wfc"]],
  r2_wfc_formula = 1 - r("wfc", "~~", "wfc")$est / fitted(fs)$cov["wfc", "wfc"]
)

CHECKS$auto_cov_y_probes <- AUTO_PROBES
CHECKS$provenance <- provenance
write_json_file(CHECKS, file.path(out_dir, "formula_checks.json"))

# ----------------------------------------------------------------- timing ----
# Wall-clock time of one complete sem() call (parse + fit + SEs) for seed_paths.
# microbenchmark is not installed; Sys.time() differences have us resolution.
ts_model <- CASES$seed_paths$model
invisible(sem(ts_model, data = sim_seed))        # warm-up
times <- numeric(50)
for (i in seq_along(times)) {
  t0 <- Sys.time()
  invisible(sem(ts_model, data = sim_seed))
  times[i] <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
}
st <- system.time(for (i in 1:50) sem(ts_model, data = sim_seed))
timing <- list(
  case = "seed_paths", what = "sem(model, data) incl. parsing, ML fit, expected-information SEs",
  reps = 50L, median_ms = 1000 * median(times), min_ms = 1000 * min(times),
  max_ms = 1000 * max(times), mean_ms_system_time = 1000 * st[["elapsed"]] / 50,
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  cpu = tryCatch(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1]),
                 error = function(e) NA_character_),
  provenance = provenance)
write_json_file(timing, file.path(out_dir, "timing.json"))
cat(sprintf("timing seed_paths: median %.2f ms (min %.2f, max %.2f) over 50 fits\n",
            timing$median_ms, timing$min_ms, timing$max_ms))
cat("done.\n")
