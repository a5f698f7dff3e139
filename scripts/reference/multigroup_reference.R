# Reference values for balans's multi-group path analysis (crates/estimate/src/multigroup.rs,
# `balans fit --group COL [--equal regressions]`). lavaan 0.6-14. Run from the repository root:
#   Rscript scripts/reference/multigroup_reference.R
# Writes tests/reference/data/multigroup_<set>.csv (simulated here, seeded) and
# tests/reference/multigroup_<set>.json: parameter estimates and SEs of the free and the
# equal-regressions model, their chi-squares, lavTestLRT and per-path lavTestWald equality tests.
suppressPackageStartupMessages({ library(lavaan); library(jsonlite) })

# Converge tightly: lavaan's Gauss-Newton (Fisher scoring) optimizer reaches a gradient of ~1e-16
# where nlminb stops near 1e-7 (its estimates then differ from the exact ML solution at 1e-6).
tight_sem <- function(...) {
  fit <- sem(..., optim.method = "GN", optim.gn.tol.x = 1e-15, optim.gn.iter.max = 1000)
  stopifnot(lavInspect(fit, "converged"))
  fit
}

sim_group <- function(n, a, b, c, label) {
  x <- rnorm(n)
  m <- a * x + rnorm(n)
  y <- b * m + c * x + rnorm(n)
  data.frame(context = label, x = x, m = m, y = y)
}
sim_parallel <- function(n, a1, a2, b1, b2, label) {
  x <- rnorm(n)
  e <- MASS::mvrnorm(n, c(0, 0), matrix(c(1, .3, .3, 1), 2))
  m1 <- a1 * x + e[, 1]
  m2 <- a2 * x + e[, 2]
  y <- b1 * m1 + b2 * m2 + 0.1 * x + rnorm(n)
  data.frame(context = label, x = x, m1 = m1, m2 = m2, y = y)
}

set.seed(20261130)
sets <- list(
  mediation = list(
    data = rbind(sim_group(180, 0.5, 0.3, 0.1, "office"), sim_group(140, 0.2, 0.35, 0.1, "remote")),
    model = "m ~ x\ny ~ m + x",
    labelled = "m ~ c(a.1, a.2)*x\ny ~ c(b.1, b.2)*m + c(c.1, c.2)*x"),
  parallel = list(
    data = rbind(sim_parallel(120, 0.4, 0.3, 0.3, 0.2, "care"),
                 sim_parallel(150, 0.1, 0.3, 0.3, 0.4, "retail"),
                 sim_parallel(100, 0.4, 0.2, 0.1, 0.2, "it")),
    model = "m1 ~ x\nm2 ~ x\ny ~ m1 + m2 + x",
    labelled = paste("m1 ~ c(a1.1, a1.2, a1.3)*x", "m2 ~ c(a2.1, a2.2, a2.3)*x",
                     "y ~ c(b1.1, b1.2, b1.3)*m1 + c(b2.1, b2.2, b2.3)*m2 + c(c.1, c.2, c.3)*x",
                     sep = "\n"))
)

rows_of <- function(fit) {
  pe <- parameterEstimates(fit)
  pe <- pe[pe$op %in% c("~", "~~"), ]
  lapply(seq_len(nrow(pe)), function(i) list(lhs = pe$lhs[i], op = pe$op[i], rhs = pe$rhs[i],
    group = pe$group[i], est = pe$est[i], se = pe$se[i]))
}

for (name in names(sets)) {
  s <- sets[[name]]
  d <- s$data[sample(nrow(s$data)), ]  # interleave the groups; lavaan orders them by appearance
  write.csv(d, file.path("tests/reference/data", paste0("multigroup_", name, ".csv")), row.names = FALSE)
  free <- tight_sem(s$model, data = d, group = "context")
  equal <- tight_sem(s$model, data = d, group = "context", group.equal = "regressions")
  lrt <- lavTestLRT(free, equal)
  lab <- tight_sem(s$labelled, data = d, group = "context")
  pe <- parameterEstimates(lab)
  paths <- unique(pe[pe$op == "~", c("lhs", "rhs", "label")])
  wald <- list()
  for (key in unique(paste(paths$lhs, paths$rhs, sep = "~"))) {
    labs <- pe$label[pe$op == "~" & paste(pe$lhs, pe$rhs, sep = "~") == key]
    cons <- paste(paste(labs[1], "==", labs[-1]), collapse = "\n")
    w <- lavTestWald(lab, constraints = cons)
    wald[[length(wald) + 1]] <- list(path = key, stat = w$stat, df = w$df, p.value = w$p.value)
  }
  out <- list(
    source = paste0("lavaan ", packageVersion("lavaan"), ": sem(model, data, group = 'context'",
                    "[, group.equal = 'regressions']), lavTestLRT, lavTestWald"),
    model = s$model, data = paste0("multigroup_", name, ".csv"),
    groups = lavInspect(free, "group.label"), n = unlist(lavInspect(free, "nobs")),
    # Convergence of the free model (with equality constraints lavaan's gradient is per group
    # before the constraints, so it does not vanish; its chi-square is the check).
    max.gradient.free = max(abs(lavInspect(free, "gradient"))),
    free = list(chisq = fitMeasures(free, "chisq")[[1]], df = fitMeasures(free, "df")[[1]],
                parameters = rows_of(free)),
    equal = list(chisq = fitMeasures(equal, "chisq")[[1]], df = fitMeasures(equal, "df")[[1]],
                 pvalue = fitMeasures(equal, "pvalue")[[1]], parameters = rows_of(equal)),
    lrt = list(chisq.diff = lrt[["Chisq diff"]][2], df.diff = lrt[["Df diff"]][2],
               p.value = lrt[["Pr(>Chisq)"]][2]),
    wald = wald)
  write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
        file.path("tests/reference", paste0("multigroup_", name, ".json")))
}
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
