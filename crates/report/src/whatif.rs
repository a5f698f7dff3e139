//! Rendering of a what-if result ([`balans_model::whatif::WhatIfReport`]).

use balans_model::whatif::WhatIfReport;

/// The one-sentence answer: the largest expected change among the outcomes.
pub fn answer(r: &WhatIfReport) -> String {
    let shifts: Vec<String> = r
        .shifts
        .iter()
        .map(|s| {
            let verb = if s.sd < 0.0 { "reducing" } else { "raising" };
            format!("{verb} {} by {:.2} SD", s.lever, s.sd.abs())
        })
        .collect();
    let best = r.changes.iter().max_by(|a, b| {
        a.total
            .abs()
            .total_cmp(&b.total.abs())
            .then_with(|| b.outcome.cmp(&a.outcome))
    });
    match (shifts.is_empty(), best) {
        (false, Some(c)) => {
            let mut first = shifts.join(" and ");
            first[..1].make_ascii_uppercase();
            let dir = if c.total < 0.0 { "lower" } else { "raise" };
            format!(
                "{first} (reaching {:.0}% of employees) is expected to {dir} {} by {:.2} SD (its largest change; population model, no uncertainty).",
                r.share * 100.0,
                c.outcome,
                c.total.abs()
            )
        }
        _ => match r.ranking.first() {
            Some(l) => format!(
                "Per 1 SD, {} moves {} most: {:.2} SD (population model).",
                l.lever, r.compare_outcome, l.per_sd
            ),
            None => "The model has no levers.".to_string(),
        },
    }
}

/// The table: the answer, every outcome's change (total, direct, via each mediator), the ranking.
pub fn table(r: &WhatIfReport) -> String {
    let mut t = format!(
        "Answer:\n  {}\n\nWhat if ({}), share reached {}\n",
        answer(r),
        r.model,
        r.share
    );
    if !r.shifts.is_empty() {
        t.push_str(&format!(
            "  {:<8} {:>9} {:>9}  via\n",
            "outcome", "total", "direct"
        ));
        for c in &r.changes {
            let via: Vec<String> = c
                .via
                .iter()
                .map(|v| format!("{} {:.4}", v.mediator, v.change))
                .collect();
            t.push_str(&format!(
                "  {:<8} {:>9.4} {:>9.4}  {}\n",
                c.outcome,
                c.total,
                c.direct,
                via.join(", ")
            ));
        }
        t.push('\n');
    }
    t.push_str(&format!(
        "Levers ranked by their effect on {} per +1 SD:\n",
        r.compare_outcome
    ));
    for (i, l) in r.ranking.iter().enumerate() {
        t.push_str(&format!(
            "  {:>2}. {:<8} {:>9.4}\n",
            i + 1,
            l.lever,
            l.per_sd
        ));
    }
    t
}

/// Long-form CSV: `kind,outcome,lever_or_mediator,value`.
pub fn csv(r: &WhatIfReport) -> String {
    let mut t = String::from("kind,outcome,via,value\n");
    for c in &r.changes {
        t.push_str(&format!("total,{},,{}\n", c.outcome, c.total));
        t.push_str(&format!("direct,{},,{}\n", c.outcome, c.direct));
        for v in &c.via {
            t.push_str(&format!("via,{},{},{}\n", c.outcome, v.mediator, v.change));
        }
    }
    for l in &r.ranking {
        t.push_str(&format!(
            "per_sd,{},{},{}\n",
            r.compare_outcome, l.lever, l.per_sd
        ));
    }
    t
}
