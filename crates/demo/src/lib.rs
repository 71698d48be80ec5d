//! Welfare Ledger's demo dataset: a generated but realistic province of family-planning
//! association welfare funds, and the loader that records it through the engine.
//!
//! [`generate`] turns a [`DemoConfig`] (seed, volume [`Scale`], [`YearSpan`]) into a
//! [`DemoPlan`], a pure function of the configuration: the same seed gives the same
//! plan, step for step. [`load`] submits the plan to an [`ledger_engine::Engine`] and
//! returns a [`DemoSummary`]. Loading again is harmless: every step has the command id
//! `demo-<seed>-<index>`, so the engine answers `duplicate` and nothing doubles.
//!
//! # The dataset
//!
//! * **Units**: 福建省 (`FJ`), its nine cities (`FJ-FZ` 福州市 … `FJ-ND` 宁德市), four
//!   real counties or districts each (`FJ-SM-SX` 沙县区), three townships per county
//!   (`FJ-SM-SX-02`) and four villages per township (`FJ-SM-SX-02-003`), with
//!   generated, plausible names: 586 units.
//! * **Years**: 2021 to 2025 by default.
//! * **Programmes** (fund ids in brackets):
//!   - 幸福工程 Happiness Project, one fund per city (`FJ-SM-HAPPINESS`): loans of
//!     ¥10,000–30,000 to mothers in half-yearly batches (2021年第十五批 …) from
//!     provincial and donated money, and relief, skills and health grants from the city.
//!   - 滚动资金 revolving funds, one per county (`FJ-SM-SX-REVOLVING`): loans of
//!     ¥10,000–30,000 over 12 to 36 months, some with a 1.5% fee; repaid money is lent
//!     again (revolving rounds above 1).
//!   - 安居工程 housing, per city and year (`FJ-SM-2023-HOUSING`): awards of
//!     ¥50,000–60,000 split province ¥20,000 / city / county, paid in two instalments
//!     (the first always needs a second signature), with follow-up visits.
//!   - 金秋助学 bursaries, per city and year (`FJ-SM-2023-BURSARY`): ¥1,000–6,500 per
//!     student from the county, city and province tiers, a few planned over four years,
//!     supplements and cancelled awards.
//!   - 计生保险 insurance, per city and year (`FJ-SM-2023-INSURANCE`, insurer-underwritten):
//!     household accident premiums (¥100 a household, ¥10 of it the household's own)
//!     and nursing-subsidy premiums (¥258 a person) by county, insurer-paid claims at a
//!     simple loss ratio of 60–80%, reserve estimates; and a provincial self-insured
//!     critical-illness scheme per year (`FJ-2023-CRITICAL`) whose claims above
//!     ¥30,000 need a second signature.
//!   - 慰问金 condolence, per city and year (`FJ-SM-2023-CONDOLENCE`): a Spring Festival
//!     and a Mother's Day campaign, ¥300–1,000 per household in cash or goods.
//! * **Controls and corrections**: appropriations committed and received per tier (the
//!   last year's county top-ups only in part); payments above thresholds requested,
//!   approved by the unit's approver, some rejected, one expired, a few left pending at
//!   the end; duplicated entries reversed (a receipt, loans, a claim, condolence
//!   payments) and cancelled awards; late borrowers (PAR30 above zero), rescheduled and
//!   written-off loans; the province closes the first two years and Xiamen one month.
//! * **No personal information in the log**: beneficiaries are opaque ids (`b-000123`)
//!   with a unit, a kind and categories; memos and reasons name no person.
//!   [`personal_data`] generates, for the beneficiary registry, a random and fictitious
//!   name, resident ID number (valid in form only), phone, bank account and address for
//!   each of them.
//!
//! At the default scale the plan has about 46,000 events; [`Scale`] multiplies the
//! volumes (loans, students, households, claims) but not the geography, the funds or
//! the special cases. docs/DEMO.md says what to look at.
//!
//! The plan's effective dates never decrease. The ledger must record it on or after
//! the last day of the last year (the domain refuses future effective dates).

mod config;
mod generate;
mod geography;
mod grants;
mod insurance;
mod lending;
mod load;
mod people;
mod plan;

pub use config::{
    ConfigError, DemoConfig, Scale, YearSpan, DEMO_YEARS_MAX, DEMO_YEAR_MAX, DEMO_YEAR_MIN,
    SCALE_PERCENT_MAX,
};
pub use generate::generate;
pub use load::{
    load, DemoSummary, LoadError, ProgrammeCounts, LOAD_IN_FLIGHT_MAX, PROGRESS_INTERVAL_STEPS,
};
pub use people::personal_data;
pub use plan::{ActorRole, DemoAction, DemoActor, DemoFund, DemoPlan, DemoStep};
