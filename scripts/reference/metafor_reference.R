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

# 6. Twenty simulated site estimates on which REML Fisher scoring cycles (metafor stops with "Fisher
#    scoring algorithm did not converge"); metafor converges with step halving (stepadj = 0.5),
#    balans by bisection on the REML estimating equation.
cyc <- c(0.021331795778466788, 0.0008168280192411978, 0.03276091324045594, 0.0010648260122597532,
         0.029269562218177943, 0.0006197072403947777, 0.10353300461096121, 0.0025536515763984486,
         0.040009144543261065, 0.0007890655399395017, -0.026627580093838275, 0.0016337085348132893,
         0.044055441438568495, 0.0011329228162084792, 0.03388672024683906, 0.0009128182013086328,
         0.013680848174315413, 0.00044629623744655704, 0.0974470256070644, 0.002140841184096733,
         0.05608130478493508, 0.0011300863652409236, 0.0030868948429176694, 0.00017530525368468093,
         0.01573724632991796, 0.0005094584505608982, 0.03718704076157455, 0.0013193828539533286,
         0.0346843413796737, 0.0006911378694882149, 0.07106131932473986, 0.0013769190260263854,
         0.05135226502480023, 0.0010122300173503423, 0.029670400071407012, 0.00064302842128036,
         0.0762435402448424, 0.0015221996007360318, 0.03974789968334249, 0.0010486058167491262)
cyc <- matrix(cyc, ncol = 2, byrow = TRUE)
sets$cycling <- data.frame(study = paste("site", 1:20), yi = cyc[, 1], vi = cyc[, 2])

fit_one <- function(d, method, knha, stepadj) {
  res <- rma(yi, vi, data = d, method = method, test = if (knha) "knha" else "z",
             control = list(threshold = 1e-12, maxiter = 10000, stepadj = stepadj))
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
    fits[[length(fits) + 1]] <- fit_one(d, method, knha, if (name == "cycling") 0.5 else 1)
  }
  out <- list(source = paste0("metafor ", packageVersion("metafor"), ", rma(yi, vi, method, test)"),
              data = d, fits = fits)
  write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
        file.path("tests/reference", paste0("metafor_", name, ".json")))
  write.csv(d, file.path("tests/reference/data", paste0("meta_", name, ".csv")), row.names = FALSE)
}
cat("metafor", as.character(packageVersion("metafor")), "\n")
