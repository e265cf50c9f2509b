"""Methods: what ran, with its settings."""

from __future__ import annotations

import html


def options(opts: dict | None) -> str:
    """Model options as words (``k=v, ...``), never a Python dict."""
    return ", ".join(f"{k}={v}" for k, v in (opts or {}).items()) or "default options"


def methods_markets(res) -> str:
    c, r = res.config, res.config.ranking
    items = [
        f"Data: markets folder {html.escape(res.dataset_name)}, {res.n_rows:,} training ratings, markets' countries "
        f"{', '.join(res.countries)}; leave-one-out per user (valid and test lists of one held-out item and its "
        "sampled negatives).",
        f"Ranker: {r.model} ({html.escape(options(r.model_options))}); scopes {', '.join(r.scopes)} (culture: sources weighted by "
        "exp(-d / tau) of the Hofstede distance, tau tuned on the training data's inner hold-out).",
        f"RQ3: test nDCG@10 and HR@10 with {r.n_boot} user-bootstrap resamples; every scope vs local by the "
        "Wilcoxon signed-rank test on per-user nDCG@10 (Benjamini-Hochberg over all comparisons); cultural-fit "
        "score (nDCG - chance) / (local nDCG - chance), chance = nDCG@10 of a random order of the list.",
        f"RQ5: gain matrix (target + one source vs local, paired per user); Mantel permutation test of gain vs "
        f"Hofstede distance; learning curves at shares {r.fractions} of the target's training ratings "
        f"({r.seeds} subsample(s) each), arms {', '.join(r.arms)}; users' full histories are the ranker's input at "
        "every share (share 0 = zero-shot from the sources).",
        f"Run: {res.units_computed} unit(s) computed and {res.units_reused} reused from an earlier run, "
        f"{res.seconds:.0f} s; seed {c.seed}; parallel backend {c.parallel.backend} x {c.parallel.n_jobs}.",
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def methods_events(res) -> str:
    c = res.config
    items = [
        f"Data: {html.escape(res.dataset_name)}, {res.n_rows:,} events, countries {', '.join(res.countries) or 'none'}, "
        f"modalities {', '.join(res.modalities)}.",
        f"Encoders: text {c.encoders.text.name}, image {c.encoders.image.name}; embeddings reduced to "
        f"{c.embedding_dim} dimensions by PCA on the catalogue.",
        f"RQ1: split by {c.rq1.split.by} (test {c.rq1.split.test_share:.0%}, validation {c.rq1.split.valid_share:.0%}); "
        f"models {', '.join(c.rq1.models)} ({c.rq1.subsets} modality subsets) plus {', '.join(c.rq1.extra) or 'none'} "
        f"on all modalities; {c.rq1.n_boot} cluster-bootstrap resamples (users) per CI; DeLong tests against the "
        "best unimodal model.",
        "RQ2: exact modality Shapley values over LightGBM's subset AUCs, leave-one-out and add-one deltas, "
        "TreeSHAP (LightGBM pred_contrib) and CLS attention shares by country.",
        f"RQ3: {c.culture.model} in scopes {', '.join(c.rq3.scopes)}, split by {c.culture.split.by}; per-country "
        "AUC with CIs, DeLong vs global, Benjamini-Hochberg across countries, cultural-fit score "
        "CFS = (AUC(m,c) - 0.5) / (AUC(best country-specific model, c) - 0.5).",
        "RQ4: logit with country fixed effects and country x feature interactions (statsmodels, cluster-robust by "
        "user) on the rows where a purchase was possible; features standardised over the catalogue; Wald "
        "heterogeneity tests; partial-dependence slopes from the global model; Spearman correlations with "
        "Hofstede's dimensions with exact permutation p-values; verdicts against the literature table.",
        f"RQ5: shares {', '.join(f'{x:g}' for x in c.rq5.fractions)} of each target's training rows, arms "
        f"{', '.join(c.rq5.arms)}, {c.rq5.seeds} seeds; each point's AUC is the mean over seeds with a "
        f"{c.rq5.n_boot}-resample bootstrap interval over the target's test users (percentile, bias-corrected "
        "where the percentile interval misses the estimate); pooled vs local at all of the target's rows paired on "
        "the same users (Benjamini-Hochberg over targets); data-equivalent value by interpolation on the local "
        "learning curve (said in words where the local model never reaches the AUC).",
    ]
    decision = res.tables.get("calibration_decision")
    if decision is not None and not decision.empty:
        d = decision.iloc[0]
        items.append(f"Validity check (calibration: auto): the RQ4 design has a median of {d['users_per_country']:,.0f} "
                     f"users per country; the threshold is {int(d['threshold'])} "
                     "(<code>benchmarks/calibration_threshold.py</code> measures the asymptotic tests' false-positive "
                     f"rate by design size). Here: {html.escape(str(d['explanation']))}.")
    if res.tables.get("calibration_settings") is not None:
        settings = res.tables["calibration_settings"].iloc[0]
        items.append(
            f"Calibration (parametric bootstrap): the RQ4 rows kept as they are, labels redrawn "
            f"{int(settings['null_replicates'])} times from the logit without country terms (one intercept, one "
            "slope per feature)" + (f" and {int(settings['planted_replicates'])} times from the fitted country "
                                    f"differences times the scales {', '.join(f'{x:g}' for x in c.calibration.scales)}"
                                    if int(settings["planted_replicates"]) else "")
            + "; each replicate runs the RQ4 logit, Wald and permutation tests and the literature verdicts"
            + (" and RQ3's scopes on the same rows" if c.calibration.rq3 and c.rq3.enabled and not c.calibration.auto
               else "")
            + f"; tests at {c.calibration.alpha} (literature verdicts at {c.rq4.alpha}); false-positive rates with "
            "Wilson intervals at the replicate-clustered effective number of tests; calibrated p = (1 + null "
            "replicates at least as extreme) / (1 + null replicates).")
    items += [
        f"Run: {res.units_computed} unit(s) computed and {res.units_reused} reused from an earlier run, "
        f"{res.seconds:.0f} s; seed {c.seed}; parallel backend {c.parallel.backend} x {c.parallel.n_jobs}.",
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
