# Reference values for radval's time-to-event validation statistics:
#   time_dependent_auc, survival_brier  <- riskRegression::Score (KM censoring model,
#                                          conservative = FALSE: influence-function SE)
#   uno_c                               <- survival::concordance(timewt = "n/G2", ymax)
#   median_survival                     <- print(survfit()) / summary(survfit())$table
#   logrank_test(strata=, rho=)         <- survival::survdiff(y ~ g + strata(s), rho = )
#   cox_ph(strata=), predict_survival   <- survival::coxph(..., ties), survfit(fit, newdata)
#   survival_calibration                <- survfit (KM per risk group), coxph on cloglog(risk)
#                                          and on Hmisc::rcspline.eval(cloglog(risk), knots)
# Run from the repository root:  Rscript tests/reference/survival_validation.R
# Writes tests/reference/survival_validation.json (data included; CI never needs R).
suppressPackageStartupMessages({
  library(survival); library(riskRegression); library(prodlim); library(jsonlite)
})
ctrl <- coxph.control(eps = 1e-13, toler.chol = 1e-14, iter.max = 100)

score_auc <- function(d, score, times) {
  s <- Score(list(m = score), formula = Hist(time, event) ~ 1, data = d, metrics = "auc",
             times = times, conservative = FALSE, null.model = FALSE)
  a <- as.data.frame(s$AUC$score)
  list(time = a$times, auc = a$AUC, se = a$se, ci_low = a$lower, ci_high = a$upper)
}

score_brier <- function(d, sp, times) {
  s <- Score(list(m = 1 - sp), formula = Hist(time, event) ~ 1, data = d, metrics = "brier",
             times = times, conservative = FALSE, null.model = TRUE, summary = "ipa")
  b <- as.data.frame(s$Brier$score)
  m <- b[b$model == "m", ]
  nul <- b[b$model == "Null model", ]
  list(time = m$times, brier = m$Brier, se = m$se, ci_low = m$lower, ci_high = m$upper,
       brier_null = nul$Brier, brier_null_se = nul$se, ipa = m$IPA)
}

uno <- function(d, score, ymax = NULL) {
  cc <- concordance(Surv(time, event) ~ score, data = cbind(d, score = score), reverse = TRUE,
                    timewt = "n/G2", ymax = ymax)
  list(estimate = unname(cc$concordance), var = cc$var, count = as.list(cc$count),
       ymax = if (is.null(ymax)) NA else ymax)
}

medians <- function(fit) {
  tab <- summary(fit)$table
  if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  grp <- if (nrow(tab) == 1 && is.null(fit$strata)) "all" else sub(".*=", "", rownames(tab))
  list(group = grp, n = unname(tab[, "records"]), events = unname(tab[, "events"]),
       median = unname(tab[, "median"]), ci_low = unname(tab[, grep("LCL$", colnames(tab))]),
       ci_high = unname(tab[, grep("UCL$", colnames(tab))]))
}

km_at <- function(time, event, h) {
  # Kaplan-Meier S(h) and the SE of S(h); NA when the follow-up ends before h
  if (h > max(time)) return(c(NA, NA, NA, NA))
  s <- summary(survfit(Surv(time, event) ~ 1), times = h, extend = TRUE)
  c(s$surv, s$std.err, s$lower, s$upper)
}

calib <- function(d, risk, h, n_groups = 10) {
  z <- qnorm(0.975)
  o <- km_at(d$time, d$event, h)
  observed <- 1 - o[1]
  oe <- observed / mean(risk)
  se_log_oe <- o[2] / observed  # SE(1 - S) / (1 - S), with SE(S) from survfit
  br <- unique(quantile(risk, seq(0, 1, 1 / n_groups)))
  grp <- as.integer(cut(risk, br, include.lowest = TRUE))
  gr <- lapply(sort(unique(grp)), function(g) {
    m <- grp == g
    k <- km_at(d$time[m], d$event[m], h)
    c(group = g, n = sum(m), events = sum(d$event[m] == 1 & d$time[m] <= h),
      mean_predicted = mean(risk[m]), observed = 1 - k[1], ci_low = 1 - k[4],
      ci_high = 1 - k[3])
  })
  gr <- as.data.frame(do.call(rbind, gr))
  inside <- risk > 0 & risk < 1
  dd <- data.frame(th = pmin(d$time, h), dh = as.integer(d$event == 1 & d$time <= h),
                   cll = log(-log(1 - risk)))[inside, ]
  fs <- coxph(Surv(th, dh) ~ cll, data = dd, ties = "efron", control = ctrl)
  knots <- unname(quantile(dd$cll, c(0.1, 0.5, 0.9)))
  b <- Hmisc::rcspline.eval(dd$cll, knots = knots, inclx = TRUE)
  dd$b1 <- b[, 1]; dd$b2 <- b[, 2]
  fc <- coxph(Surv(th, dh) ~ b1 + b2, data = dd, ties = "efron", control = ctrl)
  sf <- survfit(fc, newdata = dd[, c("b1", "b2")])
  obs_i <- 1 - as.numeric(summary(sf, times = h, extend = TRUE)$surv)
  diff <- abs(obs_i - risk[inside])
  list(horizon = h, observed_risk = observed, mean_predicted = mean(risk), o_e_ratio = oe,
       o_e_ci_low = oe * exp(-z * se_log_oe), o_e_ci_high = oe * exp(z * se_log_oe),
       slope = unname(coef(fs)), slope_se = unname(sqrt(vcov(fs)[1, 1])),
       knots = knots, curve_observed = obs_i, ici = mean(diff), e50 = median(diff),
       e90 = unname(quantile(diff, 0.9)), emax = max(diff),
       grouped = as.list(gr))
}

survdiff_ref <- function(d, rho, strata = TRUE) {
  f <- if (strata) Surv(time, event) ~ group + strata(stratum) else Surv(time, event) ~ group
  sd <- survdiff(f, data = d, rho = rho)
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  ex <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  df <- sum(ex > 0) - 1
  list(rho = rho, strata = strata, statistic = sd$chisq, df = df,
       p_value = pchisq(sd$chisq, df, lower.tail = FALSE), observed = unname(obs),
       expected = unname(ex))
}

cox_strata_ref <- function(d, xn) {
  out <- list()
  for (ties in c("efron", "breslow")) {
    fml <- as.formula(paste("Surv(time, event) ~", paste(xn, collapse = " + "),
                            "+ strata(stratum)"))
    f <- coxph(fml, data = d, ties = ties, control = ctrl)
    out[[ties]] <- list(coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))),
                        loglik = f$loglik)
  }
  out
}

case <- function(name, d, score, sp, horizons, xn, calib_h, uno_tau) {
  # d: time, event, group, stratum, covariates xn; sp: predicted survival (n x horizons)
  ok <- horizons <= max(d$time)
  out <- list(name = name, time = d$time, event = d$event, group = as.character(d$group),
              stratum = as.character(d$stratum), x = unname(as.matrix(d[, xn])), x_names = xn,
              score = score, survival_prob = unname(sp), horizons = horizons)
  out$auc <- score_auc(d, score, horizons[ok])
  out$brier <- score_brier(d, sp[, ok, drop = FALSE], horizons[ok])
  out$uno <- uno(d, score)
  out$uno_tau <- uno(d, score, ymax = uno_tau)
  out$median_all <- medians(survfit(Surv(time, event) ~ 1, data = d))
  out$median_group <- medians(survfit(Surv(time, event) ~ group, data = d))
  out$logrank <- list(survdiff_ref(d, 0, FALSE), survdiff_ref(d, 1, FALSE),
                      survdiff_ref(d, 0), survdiff_ref(d, 1), survdiff_ref(d, 0.5))
  out$cox_strata <- cox_strata_ref(d, xn)
  out$calibration <- calib(d, 1 - sp[, match(calib_h, horizons)], calib_h)
  out$censored_fraction <- mean(d$event == 0)
  out
}

cases <- list()

# 1. Mayo PBC trial (survival::pbc, 312 randomised patients; death, transplant censored),
#    a Cox model on 5 predictors gives the score (linear predictor) and the survival
#    probabilities at 1-4 years (survfit of the model).
p <- pbc[1:312, ]
p <- p[complete.cases(p[, c("time", "status", "bili", "age", "albumin", "edema", "protime")]), ]
d1 <- data.frame(time = p$time, event = as.integer(p$status == 2),
                 group = ifelse(p$bili > 1.4, "high", "low"), stratum = p$sex,
                 lbili = log(p$bili), age = p$age, albumin = p$albumin)
fit1 <- coxph(Surv(time, event) ~ lbili + age + albumin, data = d1, ties = "efron",
              control = ctrl)
h1 <- c(365, 730, 1095, 1461)
sp1 <- summary(survfit(fit1, newdata = d1), times = h1)$surv
sp1 <- t(sp1)
cases[[1]] <- case("pbc", d1, unname(predict(fit1, type = "lp")), sp1, h1,
                   c("lbili", "age", "albumin"), 1095, 1461)
cases[[1]]$cox_predict <- list(coef = unname(coef(fit1)), survival = unname(sp1))

# 2. Heavy censoring (> 70%), continuous times (no ties of any kind), miscalibrated
#    Weibull predictions.
set.seed(20240611)
n <- 400
x <- rnorm(n)
t_ev <- (rexp(n) / (0.006 * exp(0.8 * x)))^(1 / 1.3)
t_c <- runif(n, 0, 40)
d2 <- data.frame(time = pmin(t_ev, t_c), event = as.integer(t_ev <= t_c),
                 group = ifelse(x > 0.5, "high", "low"), stratum = sample(c("a", "b"), n, TRUE),
                 x = x, z = rnorm(n))
h2 <- c(5, 10, 20, 30)
sp2 <- sapply(h2, function(tt) exp(-0.01 * tt^1.2 * exp(1.0 * x)))
cases[[2]] <- case("heavy_censoring", d2, x + 0.3 * d2$z, sp2, h2, c("x", "z"), 10, 20)

# 3. Months rounded to integers: tied event times, censorings tied with events, tied scores.
set.seed(7)
n <- 250
sc <- round(rnorm(n), 1)
t_ev <- rexp(n, 0.04 * exp(0.6 * sc))
t_c <- runif(n, 3, 36)
d3 <- data.frame(time = pmax(1, round(pmin(t_ev, t_c))), event = as.integer(t_ev <= t_c),
                 group = sample(c("A", "B", "C"), n, TRUE), stratum = sample(1:3, n, TRUE),
                 sc = sc, age = round(rnorm(n, 60, 10)))
h3 <- c(6, 12, 24)
sp3 <- sapply(h3, function(tt) exp(-0.04 * tt * exp(0.5 * sc)))
cases[[3]] <- case("ties", d3, sc, sp3, h3, c("sc", "age"), 12, 12)

# 4. Horizons beyond the last event: events stop at 30 while follow-up runs to 48;
#    60 is beyond the maximum follow-up (Score drops it; radval returns NaN + warning).
set.seed(99)
n <- 150
x <- rnorm(n)
t_ev <- rexp(n, 0.05 * exp(0.7 * x))
t_c <- runif(n, 10, 48)
tt <- pmin(t_ev, t_c)
ev <- as.integer(t_ev <= t_c & tt <= 30)
d4 <- data.frame(time = tt, event = ev, group = ifelse(x > 0, "high", "low"),
                 stratum = sample(c("s1", "s2"), n, TRUE), x = x, w = rnorm(n))
h4 <- c(12, 24, 36, 60)
sp4 <- sapply(h4, function(tt) exp(-0.05 * tt * exp(0.7 * x)))
cases[[4]] <- case("beyond_last_event", d4, x, sp4, h4, c("x", "w"), 36, 36)
cases[[4]]$last_event <- max(d4$time[d4$event == 1])
cases[[4]]$max_followup <- max(d4$time)

# Median survival: veteran by treatment (trt 2: the curve sits at 0.5 between two event
# times, the median is their midpoint 52.5), lung by sex.
vet <- list(time = veteran$time, event = veteran$status, trt = veteran$trt,
            celltype = as.character(veteran$celltype), karno = veteran$karno,
            age = veteran$age)
vet$median_trt <- medians(survfit(Surv(time, status) ~ trt, data = veteran))
vet$median_all <- medians(survfit(Surv(time, status) ~ 1, data = veteran))
vet$median_90 <- medians(survfit(Surv(time, status) ~ trt, data = veteran, conf.int = 0.90))
vd <- data.frame(time = veteran$time, event = veteran$status, group = veteran$trt,
                 stratum = veteran$celltype, karno = veteran$karno, age = veteran$age,
                 trt = veteran$trt)
vet$logrank <- list(survdiff_ref(vd, 0, FALSE), survdiff_ref(vd, 0), survdiff_ref(vd, 1),
                    survdiff_ref(vd, 0.5), survdiff_ref(vd, 1, FALSE))
vet$cox_strata <- cox_strata_ref(vd, c("trt", "karno", "age"))

res <- list(generated_by = "tests/reference/survival_validation.R",
            R_version = R.version.string,
            survival_version = as.character(packageVersion("survival")),
            riskRegression_version = as.character(packageVersion("riskRegression")),
            prodlim_version = as.character(packageVersion("prodlim")),
            Hmisc_version = as.character(packageVersion("Hmisc")),
            cases = cases, veteran = vet)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", na = "null"),
           "tests/reference/survival_validation.json")
