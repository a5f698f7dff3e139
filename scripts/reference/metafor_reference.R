# Reference values for balans-transport's meta-analysis (crates/transport/src/meta.rs).
# metafor 3.8-1, R 4.x. Run from the repository root:
#   Rscript scripts/reference/metafor_reference.R
# Writes tests/reference/metafor_<set>.json (inputs yi/vi and every fit) and the CSV inputs under
# tests/reference/data/ used by the CLI tests. REML is converged tightly (threshold 1e-12).
suppressPackageStartupMessages({ library(metafor); library(jsonlite) })

sets <- list()

# 1. BCG vaccine trials, log risk ratios (metafor's README example).
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
sets$bcg <- data.frame(study = paste(dat.bcg$author, dat.bcg$year), yi = as.numeric(bcg$yi),
                       vi = as.numeric(bcg$vi))

# 2. Conscientiousness and medication adherence: correlations as Fisher z (r, n input).
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
sets$molloy2014 <- data.frame(study = paste(dat.molloy2014$authors, dat.molloy2014$year),
                              ri = dat.molloy2014$ri, ni = dat.molloy2014$ni,
                              yi = as.numeric(mol$yi), vi = as.numeric(mol$vi))

# 3. Length of stay, mean differences (Normand 1999): large heterogeneity, k = 9.
nor <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
              n2i = n2i, data = dat.normand1999)
sets$normand1999 <- data.frame(study = dat.normand1999$source, yi = as.numeric(nor$yi),
                               vi = as.numeric(nor$vi))

# 4. Homogeneous studies: tau2 at the boundary 0 for DL and REML.
sets$homogeneous <- data.frame(study = paste0("s", 1:5),
                               yi = c(0.30, 0.28, 0.33, 0.31, 0.29),
                               vi = c(0.010, 0.020, 0.015, 0.012, 0.018))

# 5. Three studies (smallest usable K with Knapp-Hartung's t(2)).
sets$three <- data.frame(study = c("a", "b", "c"), yi = c(-0.1, 0.4, 0.25),
                         vi = c(0.04, 0.02, 0.03))

fit_one <- function(d, method, knha) {
  res <- rma(yi, vi, data = d, method = method, test = if (knha) "knha" else "z",
             control = list(threshold = 1e-12, maxiter = 1000))
  pr <- predict(res)
  list(method = method, knha = knha,
       b = as.numeric(res$b), se = res$se, zval = res$zval, pval = res$pval,
       ci.lb = res$ci.lb, ci.ub = res$ci.ub, tau2 = res$tau2,
       se.tau2 = if (method == "FE") NA else res$se.tau2,
       I2 = res$I2, H2 = res$H2, QE = res$QE, QEp = res$QEp,
       pi.lb = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
       pi.ub = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub,
       weights = as.numeric(weights(res)))
}

for (name in names(sets)) {
  d <- sets[[name]]
  fits <- list()
  for (method in c("FE", "DL", "REML")) for (knha in c(FALSE, TRUE)) {
    if (method == "FE" && knha) next
    fits[[length(fits) + 1]] <- fit_one(d, method, knha)
  }
  out <- list(source = paste0("metafor ", packageVersion("metafor"), ", rma(yi, vi, method, test)"),
              data = d, fits = fits)
  write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
        file.path("tests/reference", paste0("metafor_", name, ".json")))
  write.csv(d, file.path("tests/reference/data", paste0("meta_", name, ".csv")), row.names = FALSE)
}
cat("metafor", as.character(packageVersion("metafor")), "\n")
