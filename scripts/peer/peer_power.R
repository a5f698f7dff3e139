# Peer comparison for `balans power`: the same Monte Carlo power analysis in R with lavaan.
#
# Usage (run by `cargo xtask peer-power`, which writes the population covariance matrix):
#   Rscript scripts/peer/peer_power.R SIGMA.csv N REPS SEED ALPHA OUT.json
#
# Population: multivariate normal with the covariance matrix in SIGMA.csv (balans's built-in `seed`
# model, construct level, every variable variance 1). Analysis: lavaan::sem() with the same
# structure, every path free (lavaan defaults: ML, expected information, fixed.x where applicable).
# Per replication: Wald z tests of every regression path; for the four `:=` indirect effects,
# joint significance (both paths p < alpha) and the delta-method (Sobel) z test.
# Writes power per (effect, test), the number of converged fits and the time per replication.

suppressPackageStartupMessages({
  library(lavaan)
  library(MASS)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 6) stop("usage: peer_power.R SIGMA.csv N REPS SEED ALPHA OUT.json")
sigma <- as.matrix(read.csv(args[1], check.names = FALSE))
rownames(sigma) <- colnames(sigma)
n <- as.integer(args[2]); reps <- as.integer(args[3]); seed <- as.integer(args[4])
alpha <- as.numeric(args[5]); out <- args[6]

model <- '
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
defined <- list(ind_is_wfc_perf = c("a1", "b1"), ind_rm_wfe_amb = c("a2", "b2"),
                ind_cm_eng_perf = c("a3", "b3"), ind_cm_eng_amb = c("a3", "b4"))

set.seed(seed)
counts <- list(); converged <- 0L
add <- function(key, reject) counts[[key]] <<- (if (is.null(counts[[key]])) 0L else counts[[key]]) + as.integer(reject)
start <- proc.time()[["elapsed"]]
for (r in seq_len(reps)) {
  data <- as.data.frame(mvrnorm(n, mu = rep(0, ncol(sigma)), Sigma = sigma))
  fit <- tryCatch(sem(model, data = data), error = function(e) NULL)
  ok <- !is.null(fit) && lavInspect(fit, "converged")
  pe <- if (ok) parameterEstimates(fit) else NULL
  if (ok) converged <- converged + 1L
  paths <- if (ok) pe[pe$op == "~", ] else NULL
  if (ok) {
    for (i in seq_len(nrow(paths))) add(paste0(paths$lhs[i], "~", paths$rhs[i], "|wald"), paths$pvalue[i] < alpha)
    for (d in names(defined)) {
      lab <- defined[[d]]
      add(paste0(d, "|joint"), all(pe$pvalue[match(lab, pe$label)] < alpha))
      add(paste0(d, "|sobel"), pe$pvalue[pe$lhs == d & pe$op == ":="] < alpha)
    }
  }
}
elapsed <- proc.time()[["elapsed"]] - start
power <- lapply(counts, function(k) k / reps)
write_json(list(n = n, reps = reps, seed = seed, alpha = alpha, converged = converged,
                seconds_per_replication = elapsed / reps, power = power,
                lavaan = as.character(packageVersion("lavaan")), R = R.version.string),
           out, auto_unbox = TRUE, digits = NA, pretty = TRUE)
