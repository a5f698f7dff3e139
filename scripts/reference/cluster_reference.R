# Reference numbers for cluster-robust fits as lavaan makes them (balans fit --cluster; issue 20.2).
# lavaan 0.6-14, sem(model, data, cluster = "team") with its defaults for a single-level model with
# clusters: se = "robust.cluster" with information = "observed" (observed.information = "hessian",
# h1.information = "structured") for the standard errors, and test = "yuan.bentler.mplus" whose
# trace uses observed.information = "h1"; and the same fit with information = "expected".
#
# Data: tests/reference/cluster_teams.csv, simulated here with set.seed(20) (50 teams of 3-8
# employees; a team effect in every variable, so the clustering matters), rounded to 6 decimals and
# read back before fitting, so lavaan and balans see the same numbers.
# Convergence: nlminb with rel.tol = 1e-14 (control = list(rel.tol = 1e-14, iter.max = 10000,
# eval.max = 20000)) and optim.force.converged = TRUE (nlminb reports "false convergence" at so strict a
# tolerance after reaching the optimum); `max_abs_gradient` records lavaan's gradient at the solution.
# Run from the repository root: Rscript scripts/reference/cluster_reference.R
suppressMessages({library(lavaan); library(jsonlite)})
set.seed(20)
teams <- 50
size <- sample(3:8, teams, replace = TRUE)
team <- rep(seq_len(teams), size)
n <- length(team)
u <- function(sd) rnorm(teams, 0, sd)[team]
x1 <- u(0.6) + rnorm(n)
x2 <- u(0.5) + 0.3 * x1 + rnorm(n)
m1 <- 0.4 * x1 + 0.2 * x2 + u(0.5) + rnorm(n)
m2 <- 0.3 * x1 + 0.25 * x2 + u(0.4) + rnorm(n)
y <- 0.35 * m1 + 0.2 * m2 + 0.15 * x1 + 0.1 * x2 + u(0.6) + rnorm(n)
d <- data.frame(team = team, x1 = x1, x2 = x2, m1 = m1, m2 = m2, y = y)
d[, -1] <- round(d[, -1], 6)
write.csv(d, "tests/reference/cluster_teams.csv", row.names = FALSE, quote = FALSE)
d <- read.csv("tests/reference/cluster_teams.csv")

models <- list(
  # Over-identified recursive model (df = 2): the implied cov(m1, m2) and cov(y, x1) differ from
  # the sample ones, so observed and expected information differ.
  chain = "m1 ~ a1*x1 + x2\nm2 ~ x1\ny ~ b1*m1 + m2 + x2\nind := a1*b1",
  # Correlated residuals with different predictors (not closed form; df = 3).
  sur = "m1 ~ x1 + x2\nm2 ~ x1\ny ~ m1 + m2\nm1 ~~ m2"
)
measures <- c("chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
              "chisq.scaling.factor", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
              "baseline.chisq.scaling.factor", "cfi", "tli", "rmsea", "cfi.robust", "tli.robust",
              "rmsea.robust")
ctrl <- list(rel.tol = 1e-14, iter.max = 10000, eval.max = 20000)
out <- list()
for (name in names(models)) {
  for (information in c("observed", "expected")) {
    f <- suppressWarnings(sem(models[[name]], d, cluster = "team", information = information,
                              control = ctrl, optim.force.converged = TRUE))
    pe <- parameterEstimates(f)
    pe <- pe[pe$op %in% c("~", "~~", ":=") & !(pe$lhs %in% c("x1", "x2") & pe$op == "~~"), ]
    if (is.null(pe$label)) pe$label <- ""
    fm <- fitMeasures(f, measures)
    out[[paste(name, information, sep = "_")]] <- list(
      model = models[[name]],
      information = information,
      se = f@Options$se,
      test = f@Options$test,
      nclusters = length(unique(d$team)),
      max_abs_gradient = max(abs(lavInspect(f, "gradient"))),
      parameters = pe[, c("lhs", "op", "rhs", "label", "est", "se")],
      measures = as.list(setNames(as.numeric(fm), names(fm)))
    )
  }
}
out$lavaan <- as.character(packageVersion("lavaan"))
out$n <- nrow(d)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
      "tests/reference/cluster_reference.json")
