#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# lavaan_latent_reference.R -- reference numbers from R/lavaan for the latent-variable (CFA/SEM)
# and FIML estimation of balans (issue 13).
#
# Run from the repository root:
#
#     Rscript scripts/reference/lavaan_latent_reference.R
#
# Reads  tests/reference/data/holzinger.csv, political_democracy.csv (written by
#        lavaan_reference.R).
# Writes tests/reference/data/holzinger_mcar.csv, political_democracy_mcar.csv
#        (10% MCAR cells, set.seed(20261130), no row entirely missing; NA written as "NA")
#        tests/reference/latent_<case>.json (one per case below)
#        tests/reference/latent_probes.json (parTable() probes of lavaan's defaults)
#
# Every case is fitted twice: with lavaan's defaults (`parameters`, `fit`) and refitted with
# BFGS at reltol 1e-20 then polished by Newton steps on lavaan's own gradient (`parameters_tight`,
# estimates at full convergence, max |gradient| ~1e-15; the Rust tests compare estimates and SEs
# with these; `fit_tight` are the measures of the BFGS fit, equal to ~1e-10).
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
  script   = "scripts/reference/lavaan_latent_reference.R"
)

write_json_file <- function(x, path) {
  txt <- jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, na = "null",
                          null = "null", pretty = TRUE, dataframe = "rows",
                          matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
}
named_list <- function(v) {
  l <- as.list(unname(as.numeric(v)))
  names(l) <- names(v)
  l
}
mat_rows <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(as.numeric(m[i, ]))))

# Data with 10% MCAR cells; a row never loses all its values.
write_csv_na <- function(df, path) {
  cols <- lapply(df, function(v) ifelse(is.na(v), "NA", sprintf("%.17g", as.numeric(v))))
  lines <- c(paste(names(df), collapse = ","), do.call(paste, c(cols, sep = ",")))
  writeLines(lines, path, useBytes = TRUE)
  back <- utils::read.csv(path, header = TRUE)
  stopifnot(identical(dim(back), dim(df)),
            isTRUE(all(is.na(as.matrix(back)) == is.na(as.matrix(df)))))
  back
}
add_mcar <- function(df, rate) {
  m <- matrix(runif(nrow(df) * ncol(df)) < rate, nrow(df))
  for (i in seq_len(nrow(df))) if (all(m[i, ])) m[i, 1] <- FALSE
  df[m] <- NA
  df
}

holz   <- utils::read.csv(file.path(data_dir, "holzinger.csv"))
poldem <- utils::read.csv(file.path(data_dir, "political_democracy.csv"))
set.seed(20261130)
holz_na   <- write_csv_na(add_mcar(holz, 0.10), file.path(data_dir, "holzinger_mcar.csv"))
poldem_na <- write_csv_na(add_mcar(poldem, 0.10), file.path(data_dir, "political_democracy_mcar.csv"))
DATA <- list(holzinger.csv = holz, political_democracy.csv = poldem,
             holzinger_mcar.csv = holz_na, political_democracy_mcar.csv = poldem_na)

HS_MODEL <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
PD_MODEL <- paste(
  "ind60 =~ x1 + x2 + x3",
  "dem60 =~ y1 + y2 + y3 + y4",
  "dem65 =~ y5 + y6 + y7 + y8",
  "dem60 ~ a*ind60",
  "dem65 ~ c*ind60 + b*dem60",
  "y1 ~~ y5",
  "y2 ~~ y4 + y6",
  "y3 ~~ y7",
  "y4 ~~ y8",
  "y6 ~~ y8",
  "ind := a*b",
  "total := c + a*b",
  sep = "\n")
MIMIC_MODEL <- paste(
  "dem60 =~ y1 + y2 + y3 + y4",
  "dem60 ~ g1*x1 + x2",
  "y5 ~ d*dem60 + x1",
  "ind := g1*d",
  sep = "\n")
PATH_MODEL <- paste(
  "x4 ~ a1*x1 + a2*x2",
  "x5 ~ b1*x4 + x3",
  "x9 ~ c1*x5 + c2*x4",
  "ind := a1*b1*c1 + a1*c2",
  sep = "\n")

CASES <- list(
  hs_cfa       = list(data = "holzinger.csv", model = HS_MODEL, args = list()),
  hs_cfa_stdlv = list(data = "holzinger.csv", model = HS_MODEL, args = list(std.lv = TRUE)),
  hs_cfa_observed = list(data = "holzinger.csv", model = HS_MODEL,
                         args = list(information = "observed")),
  hs_cfa_means = list(data = "holzinger.csv", model = HS_MODEL, args = list(meanstructure = TRUE)),
  pd_sem       = list(data = "political_democracy.csv", model = PD_MODEL, args = list()),
  pd_mimic     = list(data = "political_democracy.csv", model = MIMIC_MODEL, args = list()),
  hs_cfa_fiml  = list(data = "holzinger_mcar.csv", model = HS_MODEL, args = list(missing = "ml")),
  pd_sem_fiml  = list(data = "political_democracy_mcar.csv", model = PD_MODEL,
                      args = list(missing = "ml")),
  hs_path_fiml = list(data = "holzinger_mcar.csv", model = PATH_MODEL, args = list(missing = "ml")),
  pd_mimic_fiml = list(data = "political_democracy_mcar.csv", model = MIMIC_MODEL,
                       args = list(missing = "ml"))
)

FIT_NAMES <- c("npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
               "baseline.pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
               "rmsea.pvalue", "srmr", "logl", "unrestricted.logl", "aic", "bic", "bic2",
               "ntotal")
PE_COLS <- c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
             "std.lv", "std.all")
PT_COLS <- c("lhs", "op", "rhs", "user", "free", "ustart", "exo", "label")

# BFGS at reltol 1e-20 still stops where lavaan's own gradient is ~1e-7 (estimates ~1e-5 off on the
# flatter models). Polish: four Newton steps on lavaan's analytic gradient (Hessian by central
# differences of it), then lavaan's own vcov, standardization and R² at the polished estimates.
polish <- function(fit) {
  M <- fit@Model; SS <- fit@SampleStats; D <- fit@Data; C <- fit@Cache
  gr <- function(x) as.numeric(lavaan:::lav_model_gradient(M, GLIST = lavaan:::lav_model_x2GLIST(M, x),
          lavsamplestats = SS, lavdata = D, lavcache = C, type = "free"))
  x <- lav_model_get_parameters(M); n <- length(x)
  for (it in 1:4) {
    g <- gr(x); h <- 1e-5
    H <- sapply(seq_len(n), function(j) { e <- rep(0, n); e[j] <- h; (gr(x + e) - gr(x - e)) / (2 * h) })
    x <- x - solve((H + t(H)) / 2, g)
  }
  M2 <- lav_model_set_parameters(M, x)
  fit@Model <- M2
  free <- fit@ParTable$free > 0
  fit@ParTable$est[free] <- x[fit@ParTable$free[free]]
  def <- fit@ParTable$op == ":="
  if (any(def)) fit@ParTable$est[def] <- M2@def.function(x)
  fit@implied <- lavaan:::lav_model_implied(M2)
  V <- lavaan:::lav_model_vcov(lavmodel = M2, lavsamplestats = SS, lavoptions = fit@Options,
        lavdata = D, lavpartable = fit@ParTable, lavcache = C, lavimplied = fit@implied,
        lavh1 = fit@h1)
  fit@vcov$vcov <- V
  fit@ParTable$se <- lavaan:::lav_model_vcov_se(lavmodel = M2, lavpartable = fit@ParTable, VCOV = V)
  list(fit = fit, gradient = max(abs(gr(x))))
}

fit_case <- function(cs, ...) {
  do.call("sem", c(list(model = cs$model, data = DATA[[cs$data]]), cs$args, list(...)))
}

for (case in names(CASES)) {
  cs <- CASES[[case]]
  fit <- fit_case(cs)
  stopifnot(lavInspect(fit, "converged"))
  pe <- as.data.frame(parameterEstimates(fit, ci = TRUE, level = 0.95, standardized = TRUE))
  if (is.null(pe$label)) pe$label <- ""
  tfit <- fit_case(cs, optim.method = "BFGS", control = list(reltol = 1e-20, maxit = 10000))
  stopifnot(lavInspect(tfit, "converged"))
  polished <- polish(tfit)
  pfit <- polished$fit
  tpe <- as.data.frame(parameterEstimates(pfit, standardized = TRUE))
  if (is.null(tpe$label)) tpe$label <- ""
  opts <- lavInspect(fit, "options")
  Sig <- fitted(fit)$cov
  res <- list(
    case = case, data = cs$data, model = cs$model,
    args = cs$args,
    n = lavInspect(fit, "nobs"),
    options = list(estimator = opts$estimator, information = opts$information[1],
                   missing = opts$missing, fixed.x = opts$fixed.x,
                   meanstructure = lavInspect(fit, "meanstructure"), std.lv = opts$std.lv),
    iterations = lavInspect(fit, "iterations"),
    parameters = pe[, PE_COLS],
    parameters_tight = tpe[, c("lhs", "op", "rhs", "label", "est", "se", "std.lv", "std.all")],
    tight_options = "optim.method = 'BFGS', control = list(reltol = 1e-20, maxit = 10000), then 4 Newton steps (polish())",
    tight_max_abs_gradient = polished$gradient,
    fit = named_list(fitMeasures(fit, FIT_NAMES)),
    fit_tight = named_list(fitMeasures(tfit, FIT_NAMES)),
    r2 = named_list(lavInspect(pfit, "r2")),
    implied_cov_names = colnames(Sig),
    implied_cov = mat_rows(pfit@implied$cov[[1]]),
    partable = as.data.frame(parTable(fit))[, PT_COLS],
    provenance = provenance
  )
  write_json_file(res, file.path(out_dir, paste0("latent_", case, ".json")))
  cat(sprintf("%-16s chisq = %10.5f df = %2d npar = %2d n = %d info = %s\n", case,
              fitMeasures(tfit, "chisq"), as.integer(fitMeasures(fit, "df")),
              as.integer(fitMeasures(fit, "npar")), lavInspect(fit, "nobs"),
              opts$information[1]))
}

# parTable probes of lavaan's defaults for latent models (which (co)variances are free).
probe <- function(model, data, ...) {
  pt <- parTable(sem(model, data = data, ...))
  pt <- pt[pt$op %in% c("~~", "=~"), c("lhs", "op", "rhs", "user", "free", "ustart", "exo")]
  rownames(pt) <- NULL
  pt
}
PROBES <- list(
  two_terminal_latent = probe(paste(
    "visual =~ x1 + x2 + x3", "textual =~ x4 + x5 + x6", "speed =~ x7 + x8 + x9",
    "textual ~ visual", "speed ~ visual", sep = "\n"), holz),
  latent_and_observed_x = probe(paste(
    "dem60 =~ y1 + y2 + y3 + y4", "ind60 =~ x1 + x2 + x3", "dem60 ~ ind60 + y5", sep = "\n"),
    poldem),
  stdlv_endogenous = probe(paste(
    "visual =~ x1 + x2 + x3", "textual =~ x4 + x5 + x6", "textual ~ visual", sep = "\n"),
    holz, std.lv = TRUE)
)
write_json_file(c(PROBES, list(provenance = provenance)),
                file.path(out_dir, "latent_probes.json"))
