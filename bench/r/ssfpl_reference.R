# R's own four-parameter logistic on the same data as assaykit's fit:
#   nls(y ~ SSfpl(log10(dose), A, B, xmid, scal))   (base R, package stats)
# SSfpl: y = A + (B - A) / (1 + exp((xmid - x) / scal)), x = log10(dose), so
#   IC50 = 10^xmid, {top, bottom} = {A, B}, Hill slope (assaykit's, > 0 for a falling
#   curve) = sign(A - B) / (scal * log(10)).
# The CI is confint.default (Wald, normal quantile) on xmid, i.e. on log10 IC50.
# Run from the repository root:  Rscript bench/r/ssfpl_reference.R
# (input: tests/data/doseresponse/ssfpl_data.csv from bench/r/make_ssfpl_data.py)
inp <- "tests/data/doseresponse/ssfpl_data.csv"
out <- "tests/data/doseresponse/ssfpl_reference.csv"
d <- read.csv(inp, stringsAsFactors = FALSE)
rows <- list()
for (cid in unique(d$curve)) {
  s <- d[d$curve == cid, ]
  s$x <- log10(s$dose_uM)
  s$y <- s$response_pct
  fit <- tryCatch(nls(y ~ SSfpl(x, A, B, xmid, scal), data = s), error = function(e) e)
  if (inherits(fit, "error")) {
    rows[[cid]] <- data.frame(curve = cid, converged = FALSE, A = NA, B = NA, xmid = NA,
                              scal = NA, xmid_se = NA, xmid_ci_low = NA, xmid_ci_high = NA,
                              sigma = NA, df = NA, ic50 = NA, hill = NA,
                              message = gsub("[\r\n,]", " ", conditionMessage(fit)))
    next
  }
  cf <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  ci <- confint.default(fit, "xmid", level = 0.95)
  rows[[cid]] <- data.frame(curve = cid, converged = TRUE, A = cf[["A"]], B = cf[["B"]],
                            xmid = cf[["xmid"]], scal = cf[["scal"]], xmid_se = se[["xmid"]],
                            xmid_ci_low = ci[1, 1], xmid_ci_high = ci[1, 2],
                            sigma = summary(fit)$sigma, df = df.residual(fit),
                            ic50 = 10^cf[["xmid"]],
                            hill = sign(cf[["A"]] - cf[["B"]]) / (cf[["scal"]] * log(10)),
                            message = "")
}
res <- do.call(rbind, rows)
con <- file(out, "w")
writeLines(c(
  paste0("# made by bench/r/ssfpl_reference.R with ", R.version.string,
         " (stats::nls + stats::SSfpl, default Gauss-Newton) from ", inp),
  "# IC50 = 10^xmid; hill = sign(A - B) / (scal * ln 10); xmid_ci_* = confint.default (Wald, normal quantile)"
), con)
write.csv(res, con, row.names = FALSE)
close(con)
cat("wrote", out, "with", nrow(res), "curves,", sum(res$converged), "converged\n")
