#!/usr/bin/env Rscript
# Reference for balans-estimate's test `seed_builtin_matches_lavaan`: the built-in `seed` model
# (crates/model/models/seed.lav) as an analysis model — every path free, population numbers dropped —
# fitted by lavaan 0.6-14 `sem()` to tests/reference/data/sim_seed.csv.
# Because the model text writes `es ~~ is` etc., lavaan treats es, is, rm, cm as random (free
# (co)variances, a warning), so npar = 45.
# Also writes x_y_covariance.json: a `~~` between an exogenous and an endogenous variable
# (x1 becomes random, its covariance with the fixed x2 is 0, x1 ~~ y2 free), fitted iteratively.
# Run from the repository root:  Rscript crates/estimate/tests/reference/lavaan_seed_builtin.R
suppressPackageStartupMessages({ library(lavaan); library(jsonlite) })
d <- read.csv("tests/reference/data/sim_seed.csv")
m <- '
es ~~ is + rm + cm
is ~~ rm + cm
rm ~~ cm
wfc ~ es + a1*is + rm + cm
wfe ~ es + is + a2*rm + cm
eng ~ es + is + rm + a3*cm
wfc ~~ wfe + eng
wfe ~~ eng
perf ~ b1*wfc + wfe + b3*eng + es + is + rm + cm
amb ~ wfc + b2*wfe + b4*eng + es + is + rm + cm
ind_is_wfc_perf := a1*b1
ind_rm_wfe_amb := a2*b2
ind_cm_eng_perf := a3*b3
ind_cm_eng_amb := a3*b4
'
f <- suppressWarnings(sem(m, data = d))
pe <- parameterEstimates(f, standardized = TRUE)
if (is.null(pe$label)) pe$label <- ""
pe <- pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.all")]
fm <- fitMeasures(f, c("chisq", "df", "npar", "logl", "unrestricted.logl", "aic", "bic",
                       "baseline.chisq", "baseline.df", "cfi", "tli", "srmr"))
out <- list(case = "seed_builtin", data = "sim_seed.csv", model = m, n = lavInspect(f, "nobs"),
            parameters = pe, fit = as.list(fm),
            provenance = list(lavaan = as.character(packageVersion("lavaan")),
                              R = R.version.string,
                              script = "crates/estimate/tests/reference/lavaan_seed_builtin.R"))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE, dataframe = "rows"),
           "crates/estimate/tests/reference/seed_builtin.json")

pd <- read.csv("tests/reference/data/political_democracy.csv")
m2 <- "y1 ~ x1 + x2\ny2 ~ y1 + x2\nx1 ~~ y2"
f2 <- suppressWarnings(sem(m2, data = pd))
pe2 <- parameterEstimates(f2, standardized = TRUE)
if (is.null(pe2$label)) pe2$label <- ""
pe2 <- pe2[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.all")]
fm2 <- fitMeasures(f2, c("chisq", "df", "pvalue", "npar", "logl", "unrestricted.logl", "aic", "bic",
                         "baseline.chisq", "baseline.df", "cfi", "tli", "rmsea", "srmr"))
out2 <- list(case = "x_y_covariance", data = "political_democracy.csv", model = m2,
             n = lavInspect(f2, "nobs"), parameters = pe2, fit = as.list(fm2),
             r2 = as.list(lavInspect(f2, "r2")),
             provenance = list(lavaan = as.character(packageVersion("lavaan")),
                               R = R.version.string,
                               script = "crates/estimate/tests/reference/lavaan_seed_builtin.R"))
writeLines(toJSON(out2, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE, dataframe = "rows"),
           "crates/estimate/tests/reference/x_y_covariance.json")
