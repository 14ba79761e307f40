# Riley et al. (2020) minimum sample size for a binary-outcome prediction model,
# criteria 1-3, written out by hand (pmsampsize is not in Debian).  Formulas:
#   maxR2cs = 1 - exp(2 * (phi*log(phi) + (1-phi)*log(1-phi)))
#   n1 = P / ((S-1) * log(1 - R2cs/S)),          S = 0.9
#   S2 = R2cs / (R2cs + delta * maxR2cs);  n2 as n1 with S2,   delta = 0.05
#   n3 = (qnorm(0.975)/0.05)^2 * phi * (1-phi)
# Run: Rscript tests/reference/riley.R  (writes riley.json)
suppressPackageStartupMessages(library(jsonlite))
riley <- function(P, phi, r2cs = NULL, r2nag = 0.15, S = 0.9, delta = 0.05, margin = 0.05) {
  maxr2 <- 1 - exp(2 * (phi * log(phi) + (1 - phi) * log(1 - phi)))
  if (is.null(r2cs)) r2cs <- r2nag * maxr2
  n1 <- P / ((S - 1) * log(1 - r2cs / S))
  S2 <- r2cs / (r2cs + delta * maxr2)
  n2 <- P / ((S2 - 1) * log(1 - r2cs / S2))
  n3 <- (qnorm(0.975) / margin)^2 * phi * (1 - phi)
  list(P = P, prevalence = phi, r2_cs = r2cs, max_r2_cs = maxr2, n1 = n1, n2 = n2, n3 = n3,
       S2 = S2, c1 = ceiling(n1), c2 = ceiling(n2), c3 = ceiling(n3),
       required = max(ceiling(c(n1, n2, n3))))
}
cases <- list(
  riley(24, 0.174, r2cs = 0.288),   # published worked example (BMJ 2020;368:m441)
  riley(10, 0.3),
  riley(1300, 0.32),
  riley(5, 0.05, r2cs = 0.1)
)
write_json(list(R_version = R.version.string, cases = cases), "riley.json",
           digits = NA, auto_unbox = TRUE, pretty = TRUE)
