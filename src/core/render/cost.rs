//! The plan's cost in words, shared by the text and markdown renderings: the monthly total
//! before and after the plan with the difference, the same per app, and what could not be
//! priced.

use crate::core::cost::{AppCost, Cost};

/// `Monthly cost (USD, Fly prices of 2026-11-27): 84.50 → 167.00 (+82.50)`.
pub fn headline(cost: &Cost) -> String {
    format!(
        "Monthly cost ({}, Fly prices of {}): {} → {} ({})",
        cost.currency,
        cost.prices_date,
        cost.before,
        cost.after,
        cost.delta.signed()
    )
}

/// `fly.app.a: 84.50 → 167.00 (+82.50)`.
pub fn app_line(app: &str, c: &AppCost) -> String {
    format!(
        "fly.app.{app}: {} → {} ({})",
        c.before,
        c.after,
        c.delta.signed()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cost::Money;

    #[test]
    fn deltas_carry_their_sign() {
        let cost = Cost {
            currency: "USD".into(),
            before: Money(8450),
            after: Money(16700),
            delta: Money(8250),
            prices_date: "2026-11-27".into(),
            prices_source: "s".into(),
            apps: Default::default(),
            warnings: vec![],
        };
        assert_eq!(
            headline(&cost),
            "Monthly cost (USD, Fly prices of 2026-11-27): 84.50 → 167.00 (+82.50)"
        );
        let down = AppCost {
            before: Money(200),
            after: Money(0),
            delta: Money(-200),
        };
        assert_eq!(app_line("a", &down), "fly.app.a: 2.00 → 0.00 (-2.00)");
    }
}
