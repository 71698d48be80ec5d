//! Generated, fictitious personal information for the demo's beneficiaries, for the
//! beneficiary registry (`ledger_registry`): a name, a valid resident ID number, and
//! usually a phone, a bank account and an address for every beneficiary a plan registers.
//!
//! Everything is random and fictitious, valid in form only: names are drawn from common
//! surnames and typical given-name characters, ID numbers carry a real county's region
//! code, a birth date that fits the beneficiary's kind, a sequence number of the right
//! parity and a correct check character, but no real person stands behind any of them.
//!
//! Pure and seeded like the plan: a function of the plan alone (its seed, its
//! registrations and its unit names), drawn from a random stream of its own so that it
//! never changes the plan. Every value goes through the registry's validating
//! constructors; one that failed would be a bug here, so it panics.
//!
//! Two properties hold by construction, not by chance:
//! * ID numbers are unique across the plan (a set of the numbers issued; a taken
//!   sequence number moves on to the next free one of the same parity);
//! * no generated name occurs anywhere in the plan's steps: the plan's text (memos, unit
//!   and fund names, references, reasons) is cut into every run of two to four Chinese
//!   characters and a name found there is drawn again. A person called 林峰 beside a
//!   village called 林峰村 would be harmless in life, but here it would make "no personal
//!   information in the log" impossible to check by searching the log for the names.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write;

use chrono::{Datelike, NaiveDate};
use ledger_domain::{BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command};
use ledger_registry::{PersonalData, Sex};
use rand::distributions::WeightedIndex;
use rand::prelude::Distribution;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::geography::{CitySeed, CountySeed, CITIES, PROVINCE};
use crate::plan::{DemoAction, DemoPlan};

/// Mixed into the plan's seed so that the people's random stream is not the plan's.
const PEOPLE_SEED_SALT: u64 = 0x7065_6f70_6c65_0001;

/// The most attempts at a name that occurs nowhere in the plan before giving up (a
/// programmer error: the name lists would have to overlap the plan's text almost wholly).
const NAME_ATTEMPTS_MAX: u32 = 1_000;

/// The longest generated name, in characters (a two-character surname and given name).
const NAME_CHARS_GENERATED_MAX: usize = 4;

/// Common surnames with rough weights, in Fujian's order of frequency (陈, 林 and 黄 lead,
/// 郑, 许, 蔡, 游, 庄 are commoner than in the country as a whole). The weights are
/// plausible, not census figures.
const SURNAMES: [(&str, u32); 61] = [
    ("陈", 1100),
    ("林", 1000),
    ("黄", 600),
    ("张", 420),
    ("吴", 400),
    ("李", 380),
    ("王", 340),
    ("郑", 330),
    ("刘", 300),
    ("杨", 240),
    ("许", 200),
    ("蔡", 190),
    ("谢", 170),
    ("叶", 160),
    ("曾", 150),
    ("江", 140),
    ("周", 130),
    ("苏", 130),
    ("游", 120),
    ("洪", 120),
    ("罗", 110),
    ("邱", 110),
    ("庄", 110),
    ("赖", 100),
    ("卢", 100),
    ("魏", 90),
    ("朱", 90),
    ("何", 90),
    ("郭", 90),
    ("徐", 80),
    ("余", 80),
    ("傅", 70),
    ("高", 70),
    ("詹", 70),
    ("翁", 60),
    ("施", 60),
    ("方", 60),
    ("胡", 50),
    ("范", 50),
    ("沈", 50),
    ("潘", 50),
    ("梁", 40),
    ("马", 40),
    ("孙", 40),
    ("赵", 40),
    ("唐", 40),
    ("邓", 40),
    ("彭", 40),
    ("肖", 40),
    ("连", 40),
    ("温", 40),
    ("宋", 30),
    ("冯", 30),
    ("曹", 30),
    ("韩", 20),
    ("田", 20),
    ("董", 20),
    ("池", 20),
    ("康", 20),
    ("欧阳", 10),
    ("司马", 2),
];

/// Typical given-name characters by generation and sex: born up to 1970 (at the default
/// years), 1971–1999, from 2000.
const OLDER_MEN: [&str; 32] = [
    "国", "建", "志", "文", "永", "金", "德", "明", "福", "荣", "华", "强", "民", "军", "平", "清",
    "春", "生", "忠", "祥", "成", "发", "贵", "兴", "海", "水", "旺", "顺", "泉", "炳", "添", "宗",
];
const OLDER_WOMEN: [&str; 32] = [
    "秀", "英", "玉", "兰", "桂", "珍", "凤", "美", "金", "花", "梅", "春", "淑", "琴", "丽", "芳",
    "莲", "霞", "月", "娥", "素", "惠", "碧", "雪", "银", "云", "珠", "萍", "香", "菊", "娇", "仙",
];
const MIDDLE_MEN: [&str; 32] = [
    "伟", "强", "军", "斌", "勇", "杰", "涛", "明", "辉", "鹏", "华", "峰", "磊", "超", "俊", "建",
    "志", "文", "海", "彬", "锋", "东", "晓", "宏", "鑫", "坤", "毅", "振", "国", "林", "荣", "亮",
];
const MIDDLE_WOMEN: [&str; 32] = [
    "丽", "芳", "敏", "静", "燕", "玲", "娟", "艳", "霞", "婷", "颖", "丹", "慧", "萍", "琳", "雪",
    "莉", "红", "晓", "玉", "美", "秀", "云", "洁", "佳", "倩", "蓉", "娇", "梅", "青", "珊", "琼",
];
const YOUNG_MEN: [&str; 32] = [
    "子", "浩", "宇", "轩", "梓", "睿", "博", "俊", "杰", "涵", "泽", "晨", "昊", "铭", "瑞", "一",
    "嘉", "煜", "航", "奕", "宸", "逸", "皓", "辰", "毅", "凯", "锦", "鑫", "宏", "天", "哲", "彦",
];
const YOUNG_WOMEN: [&str; 32] = [
    "欣", "怡", "梓", "涵", "雨", "萱", "诗", "琪", "语", "嘉", "思", "佳", "若", "可", "晴", "妍",
    "悦", "彤", "馨", "梦", "瑶", "雅", "婉", "静", "钰", "依", "媛", "汐", "舒", "月", "紫", "琳",
];

/// The first three digits of mainland mobile numbers in use (China Mobile, Unicom, Telecom).
const MOBILE_PREFIXES: [&str; 39] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
];

/// Debit-card issuer prefixes (BIN), the card's length in digits and a rough weight:
/// rural beneficiaries mostly bank with the Agricultural Bank and the Postal Savings Bank.
const BANK_CARDS: [(&str, usize, u32); 7] = [
    ("622848", 19, 30), // Agricultural Bank of China
    ("621799", 19, 25), // Postal Savings Bank of China
    ("622202", 19, 12), // Industrial and Commercial Bank of China
    ("621700", 19, 12), // China Construction Bank
    ("622908", 18, 10), // Industrial Bank (兴业银行, Fuzhou)
    ("621661", 19, 7),  // Bank of China
    ("622588", 16, 4),  // China Merchants Bank
];

/// What a beneficiary is, as far as their personal data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A Happiness Project mother (计生母亲): a woman born 1975–2000.
    Mother,
    /// A bursary student: born 2003–2012.
    Student,
    /// The head of a family-planning household (独生子女户, 二女户, 计生特殊家庭): born
    /// 1945–1970.
    FamilyPlanningParent,
    /// The head of another household (a poor household): born 1950–1985.
    HouseholdHead,
    /// Any other person: born 1950–1985.
    Adult,
}

impl Role {
    fn of(kind: BeneficiaryKind, categories: &BTreeSet<BeneficiaryCategory>) -> Role {
        use BeneficiaryCategory as C;
        if categories.contains(&C::Student) {
            Role::Student
        } else if categories.contains(&C::Mother) {
            Role::Mother
        } else if kind == BeneficiaryKind::Person {
            Role::Adult
        } else if categories
            .iter()
            .any(|c| matches!(c, C::OnlyChild | C::TwoDaughters | C::SpecialFamily))
        {
            Role::FamilyPlanningParent
        } else {
            Role::HouseholdHead
        }
    }

    /// Birth years as offsets from the plan's first year (2021 at the default years,
    /// which gives the ranges in the variants' docs).
    fn birth_year_offsets(self) -> (i32, i32) {
        match self {
            Role::Mother => (-46, -21),
            Role::Student => (-18, -9),
            Role::FamilyPlanningParent => (-76, -51),
            Role::HouseholdHead | Role::Adult => (-71, -36),
        }
    }

    /// The share of men in tenths: mothers are women, heads of household mostly men.
    fn men_in_ten(self) -> u32 {
        match self {
            Role::Mother => 0,
            Role::Student | Role::Adult => 5,
            Role::FamilyPlanningParent | Role::HouseholdHead => 8,
        }
    }

    /// Chances in percent of a mobile phone and of a landline (the rest have none).
    fn phone_percent(self) -> (u32, u32) {
        match self {
            Role::Student => (40, 0),
            Role::FamilyPlanningParent => (65, 25),
            Role::Mother | Role::HouseholdHead | Role::Adult => (85, 8),
        }
    }

    /// The chance in percent of a bank account on file.
    fn bank_account_percent(self) -> u32 {
        match self {
            Role::Student => 30,
            _ => 88,
        }
    }
}

/// The chance in percent that an address is on file.
const ADDRESS_PERCENT: u32 = 90;

/// Generated personal data for every beneficiary `plan` registers, in the order of their
/// registration steps: deterministic for the plan (the same seed, scale and years give
/// the same data), fictitious, and accepted by the registry's validation for any date on
/// or after the plan's last day.
///
/// A household is represented by its head: the name and ID number are the head's.
pub fn personal_data(plan: &DemoPlan) -> Vec<(BeneficiaryId, PersonalData)> {
    let places = Places::of(plan);
    let plan_text = PlanText::of(plan);
    let first_year = plan.config().years.first();
    let today = plan.config().years.end();
    let mut rng = StdRng::seed_from_u64(plan.config().seed ^ PEOPLE_SEED_SALT);
    let names = Names::new(&plan_text);
    let mut id_numbers = IdNumbers::default();
    let banks = WeightedIndex::new(BANK_CARDS.iter().map(|(_, _, weight)| *weight))
        .expect("positive bank weights");
    let mut out = Vec::new();
    for step in plan.steps() {
        let DemoAction::Command(Command::RegisterBeneficiary {
            beneficiary,
            unit,
            kind,
            categories,
        }) = &step.action
        else {
            continue;
        };
        let role = Role::of(*kind, categories);
        let place = places.of_unit(unit.as_str());
        let sex = if rng.gen_ratio(role.men_in_ten(), 10) {
            Sex::Male
        } else {
            Sex::Female
        };
        let birth_date = birth_date(&mut rng, role, first_year);
        let name = names.draw(&mut rng, sex, birth_date.year() - first_year);
        let id_number = id_numbers.issue(&mut rng, place.county.region_code, birth_date, sex);
        let phone = phone(&mut rng, role, place.city);
        let bank_account = rng
            .gen_ratio(role.bank_account_percent(), 100)
            .then(|| bank_account(&mut rng, &banks));
        let address = rng
            .gen_ratio(ADDRESS_PERCENT, 100)
            .then(|| address(&mut rng, &place));
        let data = PersonalData::parse(
            &name,
            &id_number,
            phone.as_deref(),
            bank_account.as_deref(),
            address.as_deref(),
            today,
        )
        .unwrap_or_else(|e| {
            panic!(
                "the generated {} of {beneficiary} is invalid ({}): a bug in the demo's people",
                e.field(),
                e.code()
            )
        });
        out.push((beneficiary.clone(), data));
    }
    out
}

/// A uniformly random date of birth in the role's years.
fn birth_date(rng: &mut StdRng, role: Role, first_year: i32) -> NaiveDate {
    let (from, to) = role.birth_year_offsets();
    let year = first_year + rng.gen_range(from..=to);
    let days = if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    };
    NaiveDate::from_yo_opt(year, rng.gen_range(1..=days)).expect("a day of the year")
}

/// Draws names that occur nowhere in the plan's text.
struct Names<'a> {
    surnames: WeightedIndex<u32>,
    plan_text: &'a PlanText,
}

impl<'a> Names<'a> {
    fn new(plan_text: &'a PlanText) -> Names<'a> {
        let surnames = WeightedIndex::new(SURNAMES.iter().map(|(_, weight)| *weight))
            .expect("positive surname weights");
        Names {
            surnames,
            plan_text,
        }
    }

    /// A name for someone born `year_offset` years from the plan's first year.
    fn draw(&self, rng: &mut StdRng, sex: Sex, year_offset: i32) -> String {
        let (characters, one_character_percent) = match (year_offset, sex) {
            (..=-51, Sex::Male) => (&OLDER_MEN, 30),
            (..=-51, Sex::Female) => (&OLDER_WOMEN, 30),
            (-50..=-22, Sex::Male) => (&MIDDLE_MEN, 25),
            (-50..=-22, Sex::Female) => (&MIDDLE_WOMEN, 25),
            (_, Sex::Male) => (&YOUNG_MEN, 15),
            (_, Sex::Female) => (&YOUNG_WOMEN, 15),
        };
        for _ in 0..NAME_ATTEMPTS_MAX {
            let mut name = String::from(SURNAMES[self.surnames.sample(rng)].0);
            let first = rng.gen_range(0..characters.len());
            name.push_str(characters[first]);
            if !rng.gen_ratio(one_character_percent, 100) {
                // A second character other than the first.
                let second = (first + rng.gen_range(1..characters.len())) % characters.len();
                name.push_str(characters[second]);
            }
            if !self.plan_text.contains(&name) {
                return name;
            }
        }
        panic!("no name outside the plan's text in {NAME_ATTEMPTS_MAX} attempts: the name lists overlap the plan's text");
    }
}

/// Every run of two to [`NAME_CHARS_GENERATED_MAX`] Chinese characters in the plan's steps.
struct PlanText {
    runs: HashSet<String>,
}

impl PlanText {
    fn of(plan: &DemoPlan) -> PlanText {
        // Whole runs first: most texts repeat (memos, reasons), so each distinct run is
        // cut into pieces once.
        let mut whole_runs: HashSet<String> = HashSet::new();
        let mut add_runs = |text: &str| {
            for run in text.split(|c: char| !is_han(c)) {
                if run.chars().nth(1).is_some() && !whole_runs.contains(run) {
                    whole_runs.insert(run.to_owned());
                }
            }
        };
        let mut action = String::new();
        for step in plan.steps() {
            add_runs(&step.memo);
            // The derived Debug prints every string of the action as it is (Chinese
            // characters are not escaped), so it covers every text field of every command.
            action.clear();
            write!(action, "{:?}", step.action).expect("formatting into a string");
            add_runs(&action);
        }
        let mut runs = HashSet::new();
        for run in &whole_runs {
            let chars: Vec<char> = run.chars().collect();
            for length in 2..=NAME_CHARS_GENERATED_MAX.min(chars.len()) {
                for window in chars.windows(length) {
                    runs.insert(window.iter().collect::<String>());
                }
            }
        }
        PlanText { runs }
    }

    /// True if `name` (two to four Chinese characters) occurs in the plan's text.
    fn contains(&self, name: &str) -> bool {
        self.runs.contains(name)
    }
}

/// Chinese characters (CJK unified ideographs, extension A, compatibility ideographs).
fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// The ID numbers issued so far, by their first 17 digits.
#[derive(Default)]
struct IdNumbers {
    issued: HashSet<[u8; 17]>,
}

/// Sequence numbers of one sex: 500 odd ones for men, 500 even ones for women.
const SEQUENCES_PER_SEX: u32 = 500;

impl IdNumbers {
    /// A new, unique, valid number: region code, date of birth, a sequence number whose
    /// parity gives the sex (odd for men), and the check character. If every sequence
    /// number of that sex, county and day is taken (never at the demo's sizes), the day
    /// before is used.
    fn issue(
        &mut self,
        rng: &mut StdRng,
        region_code: &str,
        birth_date: NaiveDate,
        sex: Sex,
    ) -> String {
        let parity = match sex {
            Sex::Male => 1,
            Sex::Female => 0,
        };
        let start = rng.gen_range(0..SEQUENCES_PER_SEX);
        let mut date = birth_date;
        loop {
            let prefix = format!("{region_code}{}", date.format("%Y%m%d"));
            for k in 0..SEQUENCES_PER_SEX {
                let sequence = (start + k) % SEQUENCES_PER_SEX * 2 + parity;
                let first17 = format!("{prefix}{sequence:03}");
                let digits: [u8; 17] = first17.as_bytes().try_into().expect("6 + 8 + 3 digits");
                if self.issued.insert(digits) {
                    return format!("{first17}{}", char::from(check_character(&digits)));
                }
            }
            date = date.pred_opt().expect("a date after 1900");
        }
    }
}

/// The ISO 7064 MOD 11-2 check character of GB 11643: weights 2^(17−i) mod 11, the
/// weighted sum mod 11 indexing `10X98765432`.
fn check_character(digits: &[u8; 17]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// `count` random decimal digits.
fn digits(rng: &mut StdRng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A mobile number, a landline of the city, or none, by the role's chances.
fn phone(rng: &mut StdRng, role: Role, city: &CitySeed) -> Option<String> {
    let (mobile, landline) = role.phone_percent();
    let draw = rng.gen_range(0..100);
    if draw < mobile {
        let prefix = MOBILE_PREFIXES[rng.gen_range(0..MOBILE_PREFIXES.len())];
        Some(format!("{prefix}{}", digits(rng, 8)))
    } else if draw < mobile + landline {
        // Fuzhou and Quanzhou have eight-digit local numbers, the other cities seven;
        // local numbers do not start with 0 or 1.
        let length = match city.area_code {
            "0591" | "0595" => 8,
            _ => 7,
        };
        let first = rng.gen_range(2..=8);
        Some(format!(
            "{}-{first}{}",
            city.area_code,
            digits(rng, length - 1)
        ))
    } else {
        None
    }
}

/// A debit-card number: an issuer prefix, random digits and the Luhn check digit.
fn bank_account(rng: &mut StdRng, banks: &WeightedIndex<u32>) -> String {
    let (prefix, length, _) = BANK_CARDS[banks.sample(rng)];
    let mut number = format!("{prefix}{}", digits(rng, length - prefix.len() - 1));
    number.push(char::from(b'0' + luhn_check_digit(&number)));
    number
}

/// The Luhn check digit appended to `payload` (ASCII digits).
fn luhn_check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).expect("a digit")
}

/// A postal address in the beneficiary's village or community.
fn address(rng: &mut StdRng, place: &Place) -> String {
    let mut text = format!("{}{}{}", PROVINCE.1, place.city.name, place.county.name);
    for name in &place.below_county {
        text.push_str(name);
    }
    let number = rng.gen_range(1..=200);
    if place.county.district {
        // A flat in a community: house number, floor and door.
        let floor = rng.gen_range(1..=18);
        let door = rng.gen_range(1..=4);
        text.push_str(&format!("{number}号{floor}{door:02}室"));
    } else {
        text.push_str(&format!("{number}号"));
    }
    text
}

/// Where a beneficiary lives: the city and county seeds, and the place names of the
/// units between the county and the beneficiary's unit (township, village).
struct Place<'a> {
    city: &'static CitySeed,
    county: &'static CountySeed,
    below_county: Vec<&'a str>,
}

/// The plan's units: names and parents from its `RegisterUnit` steps, and the seeds of
/// its counties.
struct Places<'a> {
    units: HashMap<&'a str, (&'a str, Option<&'a str>)>,
    counties: HashMap<String, (&'static CitySeed, &'static CountySeed)>,
}

impl<'a> Places<'a> {
    fn of(plan: &'a DemoPlan) -> Places<'a> {
        let units = plan
            .steps()
            .iter()
            .filter_map(|step| match &step.action {
                DemoAction::Command(Command::RegisterUnit {
                    unit, name, parent, ..
                }) => Some((
                    unit.as_str(),
                    (place_name(name), parent.as_ref().map(|p| p.as_str())),
                )),
                _ => None,
            })
            .collect();
        let counties = CITIES
            .iter()
            .flat_map(|city| {
                city.counties.iter().map(move |county| {
                    (
                        format!("{}-{}-{}", PROVINCE.0, city.code, county.code),
                        (city, county),
                    )
                })
            })
            .collect();
        Places { units, counties }
    }

    /// The place of a unit at or below a county.
    fn of_unit(&self, unit: &str) -> Place<'a> {
        let mut below_county = Vec::new();
        let mut code = unit;
        loop {
            if let Some((city, county)) = self.counties.get(code) {
                below_county.reverse();
                return Place {
                    city,
                    county,
                    below_county,
                };
            }
            let (name, parent) = self
                .units
                .get(code)
                .unwrap_or_else(|| panic!("unit {code} is registered before its beneficiaries"));
            below_county.push(*name);
            code = parent.unwrap_or_else(|| panic!("beneficiary unit {unit} is not in a county"));
        }
    }
}

/// A unit's place name: its association name without the association.
fn place_name(unit_name: &str) -> &str {
    unit_name
        .strip_suffix("计划生育协会")
        .or_else(|| unit_name.strip_suffix("计生协"))
        .unwrap_or(unit_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_character_of_the_standards_example() {
        assert_eq!(check_character(b"11010519491231002"), b'X');
        assert_eq!(check_character(b"35042519850312123"), b'0');
    }

    #[test]
    fn luhn_check_digit_of_a_known_number() {
        // 79927398713 is the usual Luhn example.
        assert_eq!(luhn_check_digit("7992739871"), 3);
        assert_eq!(luhn_check_digit("0"), 0);
    }

    #[test]
    fn roles_follow_categories_before_kinds() {
        use BeneficiaryCategory as C;
        let set = |c: &[C]| c.iter().copied().collect();
        let h = BeneficiaryKind::Household;
        let p = BeneficiaryKind::Person;
        assert_eq!(
            Role::of(p, &set(&[C::Student, C::SpecialFamily])),
            Role::Student
        );
        assert_eq!(
            Role::of(p, &set(&[C::Mother, C::PoorHousehold])),
            Role::Mother
        );
        assert_eq!(
            Role::of(h, &set(&[C::PoorHousehold, C::SpecialFamily])),
            Role::FamilyPlanningParent
        );
        assert_eq!(
            Role::of(h, &set(&[C::TwoDaughters])),
            Role::FamilyPlanningParent
        );
        assert_eq!(
            Role::of(h, &set(&[C::PoorHousehold, C::Migrant])),
            Role::HouseholdHead
        );
        assert_eq!(Role::of(p, &set(&[C::PoorHousehold])), Role::Adult);
    }

    #[test]
    fn a_taken_sequence_number_moves_to_the_next_of_the_same_sex() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut numbers = IdNumbers::default();
        let date = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
        let issued: HashSet<String> = (0..SEQUENCES_PER_SEX + 3)
            .map(|_| numbers.issue(&mut rng, "350427", date, Sex::Female))
            .collect();
        assert_eq!(issued.len(), 503, "all distinct");
        let on_the_day = issued.iter().filter(|n| &n[6..14] == "19800517").count();
        assert_eq!(
            on_the_day, 500,
            "every even sequence of the day, then the day before"
        );
        assert!(
            issued.iter().all(|n| (n.as_bytes()[16] - b'0') % 2 == 0),
            "all women"
        );
    }

    #[test]
    fn the_plan_text_holds_every_short_piece_of_its_chinese_text() {
        let plan = crate::generate(&crate::DemoConfig {
            scale: crate::Scale::percent(1).unwrap(),
            ..crate::DemoConfig::default()
        });
        let text = PlanText::of(&plan);
        // From the registrations' memo 登记受助对象（匿名编号） and the province's name.
        for piece in ["登记", "受助对象", "匿名编号", "福建省计", "计生协"] {
            assert!(text.contains(piece), "{piece}");
        }
        assert!(
            !text.contains("受助对象（"),
            "pieces are Chinese characters only"
        );
        assert!(!text.contains("登记受助对象"), "at most four characters");
    }

    #[test]
    fn names_found_in_the_plan_text_are_drawn_again() {
        // A plan text holding every name of the surname 陈 with a middle-generation man's
        // given name: no 陈 among the names drawn, although 陈 is the commonest surname.
        let mut runs = HashSet::new();
        for first in MIDDLE_MEN {
            runs.insert(format!("陈{first}"));
            for second in MIDDLE_MEN {
                runs.insert(format!("陈{first}{second}"));
            }
        }
        let text = PlanText { runs };
        let names = Names::new(&text);
        let mut rng = StdRng::seed_from_u64(7);
        let drawn: Vec<String> = (0..2_000)
            .map(|_| names.draw(&mut rng, Sex::Male, -30))
            .collect();
        assert!(drawn.iter().all(|name| !name.starts_with('陈')));
        let empty = PlanText {
            runs: HashSet::new(),
        };
        let unfiltered = Names::new(&empty);
        let chen = (0..2_000)
            .filter(|_| unfiltered.draw(&mut rng, Sex::Male, -30).starts_with('陈'))
            .count();
        assert!(chen > 100, "陈 is common without the filter: {chen}");
    }

    #[test]
    fn place_names_drop_the_association() {
        assert_eq!(place_name("东山镇计生协"), "东山镇");
        assert_eq!(place_name("沙县区计划生育协会"), "沙县区");
        assert_eq!(place_name("西坑村"), "西坑村");
    }
}
