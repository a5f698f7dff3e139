# Reference values for balans-transport's τ² estimators and meta-regression
# (crates/transport/src/metareg.rs, crates/transport/src/meta.rs, crates/cli/src/meta.rs).
# metafor 3.8-1, R 4.x. Run from the repository root:
#   Rscript scripts/reference/meta_reference.R
# Every model is fitted with control = list(threshold = 1e-12, maxiter = 1000, tol = 1e-12):
# Fisher scoring (ML, REML, EB) to a change in tau^2 below 1e-12, uniroot (PM) to 1e-12, and the
# ll0check at 1e-12 (balans uses the same thresholds). Writes tests/reference/meta_<set>.json
# (inputs, every fit for every method with and without Knapp-Hartung, predictions) and the data as
# tests/reference/meta_<set>.csv for the CLI tests.
suppressPackageStartupMessages({ library(metafor); library(jsonlite) })

ctrl <- list(threshold = 1e-12, maxiter = 1000, tol = 1e-12)
methods <- c("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")
sets <- list()

# 1. BCG vaccine trials with a continuous (absolute latitude) and a categorical moderator
#    (treatment allocation: alternate, random, systematic; reference 'alternate'), metafor's
#    meta-regression example: rma(yi, vi, mods = ~ ablat + factor(alloc)).
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
sets$bcg_mods <- list(
  data = data.frame(study = paste(dat.bcg$author, dat.bcg$year), yi = as.numeric(bcg$yi),
                    vi = as.numeric(bcg$vi), ablat = dat.bcg$ablat, alloc = dat.bcg$alloc),
  mods = ~ ablat + factor(alloc),
  newmods = list(list(ablat = 20, alloc = "alternate"), list(ablat = 40, alloc = "random"),
                 list(ablat = 55, alloc = "systematic")))

# 2. Two studies (the smallest random-effects meta-analysis; Knapp-Hartung's t(1)).
sets$two <- list(data = data.frame(study = c("a", "b"), yi = c(0.2, 0.5), vi = c(0.01, 0.04)),
                 mods = NULL, newmods = NULL)

# 3. Five studies, one with a sampling variance near 0 (1e-8): its weight dominates FE.
sets$tiny_vi <- list(data = data.frame(study = paste0("s", 1:5), yi = c(0.1, 0.35, 0.5, 0.2, 0.6),
                                       vi = c(1e-8, 0.02, 0.03, 0.015, 0.04)),
                     mods = NULL, newmods = NULL)

# 5. A study with a sampling variance of 0 and a continuous moderator: metafor fits ML, REML, EB,
#    HE and SJ (tau^2 > 0) without QE, I^2 and H^2, and stops for FE, DL, PM and HS; the error
#    message is recorded for those.
sets$zero_vi <- list(data = data.frame(study = paste0("s", 1:6), yi = c(0.1, 0.5, 0.3, 0.25, 0.6, -0.1),
                                       vi = c(0, 0.02, 0.03, 0.01, 0.04, 0.02), x = c(1, 2, 3, 4, 5, 6)),
                     mods = ~ x, newmods = list(list(x = 2.5)))

# 4. Length of stay (Normand 1999), mean differences, k = 9, large heterogeneity, with a
#    two-level categorical moderator made up for the test ('region': the first four studies
#    'north', the last five 'south'), and the intercept-only fits.
nor <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
              n2i = n2i, data = dat.normand1999)
sets$normand <- list(
  data = data.frame(study = dat.normand1999$source, yi = as.numeric(nor$yi), vi = as.numeric(nor$vi),
                    region = rep(c("north", "south"), c(4, 5))),
  mods = ~ factor(region),
  newmods = list(list(region = "north"), list(region = "south")))

fit_one <- function(d, mods, method, knha, newmods) {
  tryCatch(fit_one_(d, mods, method, knha, newmods),
           error = function(e) list(method = method, knha = knha, error = conditionMessage(e)))
}

fit_one_ <- function(d, mods, method, knha, newmods) {
  args <- list(yi = d$yi, vi = d$vi, method = method, test = if (knha) "knha" else "z",
               control = ctrl)
  if (!is.null(mods)) args$mods <- mods
  res <- suppressWarnings(if (is.null(mods)) rma(yi, vi, data = d, method = method,
                                                 test = args$test, control = ctrl)
                          else rma(yi, vi, mods = mods, data = d, method = method,
                                   test = args$test, control = ctrl))
  coefs <- data.frame(term = rownames(res$beta), estimate = as.numeric(res$beta), se = res$se,
                      zval = res$zval, pval = res$pval, ci.lb = res$ci.lb, ci.ub = res$ci.ub)
  preds <- list()
  if (is.null(mods)) {
    pr <- predict(res)
    preds[[1]] <- list(at = list(), pred = pr$pred, se = pr$se, ci.lb = pr$ci.lb, ci.ub = pr$ci.ub,
                       pi.lb = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
                       pi.ub = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub)
  } else {
    for (nm in newmods) {
      # the model-matrix row built by metafor from a data frame of new moderator values
      nd <- d[1, , drop = FALSE]
      for (v in names(nm)) nd[[v]] <- nm[[v]]
      full <- rbind(d, nd)
      X <- model.matrix(mods, data = full)
      x0 <- X[nrow(X), -1, drop = FALSE]
      pr <- predict(res, newmods = x0)
      preds[[length(preds) + 1]] <- list(at = nm, pred = pr$pred, se = pr$se, ci.lb = pr$ci.lb,
                                         ci.ub = pr$ci.ub,
                                         pi.lb = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
                                         pi.ub = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub)
    }
  }
  list(method = method, knha = knha, coefficients = coefs, tau2 = res$tau2,
       se.tau2 = if (method == "FE") NA else res$se.tau2, I2 = res$I2, H2 = res$H2,
       QE = res$QE, QEdf = res$k - res$p, QEp = res$QEp,
       QM = if (is.null(mods)) NA else res$QM, QMdf = if (is.null(mods)) NA else res$QMdf,
       QMp = if (is.null(mods)) NA else res$QMp,
       R2 = if (is.null(res$R2)) NA else res$R2,
       weights = as.numeric(weights(res)), predictions = preds)
}

for (name in names(sets)) {
  s <- sets[[name]]
  fits <- list()
  for (method in methods) for (knha in c(FALSE, TRUE)) {
    fits[[length(fits) + 1]] <- fit_one(s$data, s$mods, method, knha, s$newmods)
    if (!is.null(s$mods)) {
      # the intercept-only model of the same data, too
      f0 <- fit_one(s$data, NULL, method, knha, NULL)
      f0$intercept_only <- TRUE
      fits[[length(fits) + 1]] <- f0
    }
  }
  out <- list(source = paste0("metafor ", packageVersion("metafor"),
                              ", rma(yi, vi, mods, method, test, control = list(threshold = 1e-12, maxiter = 1000, tol = 1e-12))"),
              mods = if (is.null(s$mods)) NA else deparse(s$mods), data = s$data, fits = fits)
  write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null", dataframe = "rows"),
        file.path("tests/reference", paste0("meta_", name, ".json")))
  write.csv(s$data, file.path("tests/reference", paste0("meta_", name, ".csv")), row.names = FALSE)
}
cat("metafor", as.character(packageVersion("metafor")), "\n")
