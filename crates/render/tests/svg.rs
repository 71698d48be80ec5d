//! Proves that `svg` always gives well-formed, accessible, self-contained SVG whose
//! figures are the exact decimals it was given, and pins the structure of one small chart.
//!
//! How: proptest generates chart specs with arbitrary text (Chinese, `<&>"`, control
//! characters), empty, single-point and all-missing series, negative values and values up
//! to ±¥10^15, and arbitrary sizes; each SVG is parsed with roxmltree and its
//! accessibility attributes, texts, geometry and `data-value`s are checked. A golden test
//! checks the element structure, ticks, labels and the line's gap for a Sanming chart
//! (structure and chosen values, not a byte-for-byte snapshot).

use std::str::FromStr;

use ledger_render::{svg, ChartKind, ChartSpec, Series};
use proptest::prelude::*;
use roxmltree::{Document, Node};
use rust_decimal::Decimal;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// What a text reads back as: characters XML forbids become U+FFFD.
fn as_read(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn class_is(node: &Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|part| part == class))
}

fn find<'a>(doc: &'a Document, class: &str) -> Node<'a, 'a> {
    doc.descendants()
        .find(|n| class_is(n, class))
        .unwrap_or_else(|| panic!("no element of class {class}"))
}

/// Checks everything that must hold for any spec; returns the parsed document's text.
fn check_invariants(spec: &ChartSpec) -> Result<(), TestCaseError> {
    let text = svg(spec);
    let doc = Document::parse(&text)
        .map_err(|e| TestCaseError::fail(format!("not well-formed XML: {e}\n{text}")))?;
    let root = doc.root_element();
    prop_assert_eq!(root.tag_name().name(), "svg");
    prop_assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    prop_assert_eq!(root.attribute("role"), Some("img"));
    prop_assert_eq!(root.attribute("width"), Some("100%"));
    let view_box: Vec<f64> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    prop_assert_eq!(view_box.len(), 4);
    let (width, height) = (view_box[2], view_box[3]);
    prop_assert!((320.0..=4096.0).contains(&width) && (200.0..=4096.0).contains(&height));
    prop_assert!(root
        .attribute("font-family")
        .unwrap()
        .contains("Noto Sans CJK SC"));

    // aria-labelledby names the title and the description, which hold the spec's texts.
    let labelled_by: Vec<&str> = root
        .attribute("aria-labelledby")
        .unwrap()
        .split(' ')
        .collect();
    prop_assert_eq!(labelled_by.len(), 2);
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    let title = by_id(labelled_by[0]).expect("the title element");
    let desc = by_id(labelled_by[1]).expect("the desc element");
    prop_assert_eq!(title.tag_name().name(), "title");
    prop_assert_eq!(desc.tag_name().name(), "desc");
    prop_assert_eq!(title.text().unwrap_or(""), as_read(&spec.title));
    prop_assert_eq!(desc.text().unwrap_or(""), as_read(&spec.description));
    prop_assert_eq!(find(&doc, "unit").text().unwrap_or(""), as_read(&spec.unit));

    // Self-contained: nothing is fetched.
    prop_assert!(!text.contains("href") && !text.contains("url(") && !text.contains("@import"));

    // Geometry is finite and inside the picture; bars have no negative size.
    for node in doc.descendants().filter(|n| n.is_element()) {
        for name in [
            "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height",
        ] {
            if let Some(value) = node.attribute(name) {
                if value == "100%" {
                    continue;
                }
                let number: f64 = value
                    .parse()
                    .map_err(|_| TestCaseError::fail(format!("{name}={value}")))?;
                prop_assert!(number.is_finite(), "{}={}", name, value);
                prop_assert!(
                    (-1.0..=width.max(height) + 1.0).contains(&number),
                    "{}={}",
                    name,
                    value
                );
            }
        }
    }

    // Each value is drawn once, with its exact decimal.
    let mut drawn: Vec<(String, Decimal)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") || n.has_tag_name("rect"))
        .filter_map(|n| {
            let value = n.attribute("data-value")?;
            Some((n.attribute("data-label").unwrap().to_owned(), d(value)))
        })
        .collect();
    let mut given: Vec<(String, Decimal)> = spec
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter_map(|(label, value)| Some((as_read(label), (*value)?)))
        .collect();
    drawn.sort();
    given.sort();
    prop_assert_eq!(&drawn, &given);

    // Y ticks are exact, ascending, and cover every value and zero.
    let ticks: Vec<Decimal> = find(&doc, "axis-y")
        .children()
        .filter_map(|n| n.attribute("data-value"))
        .map(d)
        .collect();
    prop_assert!(ticks.len() >= 2);
    prop_assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{:?}", ticks);
    let low = ticks[0];
    let high = ticks[ticks.len() - 1];
    prop_assert!(low <= Decimal::ZERO && high >= Decimal::ZERO);
    for (_, value) in &given {
        prop_assert!(
            low <= *value && *value <= high,
            "{} outside {:?}",
            value,
            ticks
        );
    }
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[三明市计生协幸福工程<&>\"' a-z0-9\u{0}\u{1b}]{0,16}",
        Just(String::new()),
        Just("计生家庭意外伤害保险（住院护理补贴）<script>alert(1)</script>".repeat(4)),
    ]
}

fn value() -> impl Strategy<Value = Option<Decimal>> {
    prop_oneof![
        1 => Just(None),
        4 => (-100_000_000_000_000_000_i64..=100_000_000_000_000_000, 0u32..=2)
            .prop_map(|(m, s)| Some(Decimal::new(m, s))),
        2 => (-100_000_i64..=100_000, 0u32..=4).prop_map(|(m, s)| Some(Decimal::new(m, s))),
        1 => Just(Some(d("1000000000000"))),
        1 => Just(Some(d("-1000000000000"))),
        1 => Just(Some(Decimal::ZERO)),
    ]
}

fn series() -> impl Strategy<Value = Series> {
    (
        text(),
        proptest::collection::vec(
            (
                prop_oneof![
                    (2019u32..2024, 1u32..=12).prop_map(|(y, m)| format!("{y}-{m:02}")),
                    text()
                ],
                value(),
            ),
            0..14,
        ),
    )
        .prop_map(|(name, points)| Series { name, points })
}

fn spec() -> impl Strategy<Value = ChartSpec> {
    (
        text(),
        text(),
        prop_oneof![Just(ChartKind::Line), Just(ChartKind::Bar)],
        prop_oneof![Just("万元".to_owned()), Just("%".to_owned()), text()],
        proptest::collection::vec(series(), 0..5),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(title, description, kind, unit, series, width, height)| ChartSpec {
                title,
                description,
                kind,
                unit,
                series,
                width,
                height,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn every_chart_is_well_formed_accessible_and_exact(spec in spec()) {
        check_invariants(&spec)?;
    }
}

fn sanming(kind: ChartKind) -> ChartSpec {
    ChartSpec {
        title: "三明市计生保险保费收入".to_owned(),
        description: "2021年1月至4月每月税后保费收入，单位万元；3月无数据".to_owned(),
        kind,
        unit: "万元".to_owned(),
        series: vec![
            Series {
                name: "意外伤害保险".to_owned(),
                points: vec![
                    ("2021-01".to_owned(), Some(d("616.8"))),
                    ("2021-02".to_owned(), Some(d("92.03"))),
                    ("2021-03".to_owned(), None),
                    ("2021-04".to_owned(), Some(d("203.16"))),
                ],
            },
            Series {
                name: "护理补贴 <&>".to_owned(),
                points: vec![
                    ("2021-01".to_owned(), Some(d("32.38"))),
                    ("2021-02".to_owned(), Some(d("-5"))),
                ],
            },
        ],
        width: 640,
        height: 360,
    }
}

#[test]
fn golden_line_chart_structure() {
    let spec = sanming(ChartKind::Line);
    check_invariants(&spec).unwrap();
    let text = svg(&spec);
    let doc = Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("viewBox"), Some("0 0 640 360"));

    // Order of the top-level elements.
    let top: Vec<String> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| match n.attribute("class") {
            Some(class) => format!("{}.{}", n.tag_name().name(), class),
            None => n.tag_name().name().to_owned(),
        })
        .collect();
    assert_eq!(
        top,
        [
            "title",
            "desc",
            "rect.background",
            "text.chart-title",
            "g.legend",
            "text.unit",
            "g.axis axis-y",
            "g.axis axis-x",
            "g.series",
            "g.series",
        ]
    );
    assert_eq!(
        find(&doc, "chart-title").text(),
        Some("三明市计生保险保费收入")
    );

    // Legend names in order, escaped text read back whole.
    let legend: Vec<&str> = find(&doc, "legend")
        .children()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(legend, ["意外伤害保险", "护理补贴 <&>"]);

    // Nice ticks from -200 to 800 (zero included, -5 below it), labelled with separators.
    let tick_labels: Vec<&str> = find(&doc, "axis-y")
        .children()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(tick_labels, ["-200", "0", "200", "400", "600", "800"]);

    let x_labels: Vec<&str> = find(&doc, "axis-x")
        .children()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(x_labels, ["2021-01", "2021-02", "2021-03", "2021-04"]);

    // The first series' line breaks at March: two pieces, the second a single point
    // (drawn by its marker).
    let first = doc
        .descendants()
        .find(|n| n.attribute("data-series") == Some("0"))
        .unwrap();
    let path = first
        .children()
        .find(|n| n.has_tag_name("path"))
        .unwrap()
        .attribute("d")
        .unwrap();
    assert_eq!(path.matches('M').count(), 2, "{path}");
    assert_eq!(path.matches('L').count(), 1, "{path}");
    let markers: Vec<(&str, &str)> = first
        .children()
        .filter(|n| n.has_tag_name("circle"))
        .map(|n| {
            (
                n.attribute("data-label").unwrap(),
                n.attribute("data-value").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        markers,
        [
            ("2021-01", "616.8"),
            ("2021-02", "92.03"),
            ("2021-04", "203.16")
        ]
    );
    let tooltip = first
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text());
    assert_eq!(tooltip, Some("意外伤害保险 · 2021-01: 616.8 万元"));

    // The second series is dashed, so that it differs without colour.
    let second = doc
        .descendants()
        .find(|n| n.attribute("data-series") == Some("1"))
        .unwrap();
    let second_path = second.children().find(|n| n.has_tag_name("path")).unwrap();
    assert!(second_path.attribute("stroke-dasharray").is_some());
}

#[test]
fn golden_bar_chart_structure() {
    let spec = sanming(ChartKind::Bar);
    check_invariants(&spec).unwrap();
    let text = svg(&spec);
    let doc = Document::parse(&text).unwrap();
    let bars: Vec<Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("data-value").is_some())
        .collect();
    assert_eq!(bars.len(), 5, "one bar per value, none for the gap");
    // The negative bar hangs below the zero line, the positive ones stand on it.
    let zero_y: f64 = find(&doc, "axis-x")
        .children()
        .find(|n| n.has_tag_name("line"))
        .unwrap()
        .attribute("y1")
        .unwrap()
        .parse()
        .unwrap();
    for bar in bars {
        let y: f64 = bar.attribute("y").unwrap().parse().unwrap();
        let h: f64 = bar.attribute("height").unwrap().parse().unwrap();
        if bar.attribute("data-value") == Some("-5") {
            assert!((y - zero_y).abs() < 0.11, "{y} vs {zero_y}");
        } else {
            assert!((y + h - zero_y).abs() < 0.11, "{y}+{h} vs {zero_y}");
        }
    }
}

#[test]
fn an_empty_chart_says_so() {
    let spec = ChartSpec {
        series: vec![Series {
            name: "无".to_owned(),
            points: vec![("2021".to_owned(), None)],
        }],
        ..sanming(ChartKind::Line)
    };
    check_invariants(&spec).unwrap();
    let text = svg(&spec);
    let doc = Document::parse(&text).unwrap();
    assert_eq!(find(&doc, "no-data").text(), Some("无数据 · No data"));
}

#[test]
fn different_charts_get_different_ids() {
    let a = svg(&sanming(ChartKind::Line));
    let b = svg(&ChartSpec {
        title: "另一个".to_owned(),
        ..sanming(ChartKind::Line)
    });
    let id = |s: &str| {
        let doc = Document::parse(s).unwrap();
        doc.root_element()
            .attribute("aria-labelledby")
            .unwrap()
            .to_owned()
    };
    assert_ne!(id(&a), id(&b));
    assert_eq!(id(&a), id(&svg(&sanming(ChartKind::Line))), "deterministic");
}

#[test]
fn many_series_keep_the_legend_within_a_third_of_the_height() {
    let spec = ChartSpec {
        series: (0..40)
            .map(|i| Series {
                name: format!("第{i}个县区计生协"),
                points: vec![("2021".to_owned(), Some(Decimal::from(i)))],
            })
            .collect(),
        width: 320,
        height: 240,
        ..sanming(ChartKind::Bar)
    };
    check_invariants(&spec).unwrap();
    let text = svg(&spec);
    let doc = Document::parse(&text).unwrap();
    let more = find(&doc, "legend-more").text().unwrap().to_owned();
    let shown = find(&doc, "legend")
        .children()
        .filter(|n| n.has_tag_name("text") && n.attribute("class").is_none())
        .count();
    assert!(
        more.starts_with(&format!("另有 {} 个系列未列出", 40 - shown)),
        "{more}"
    );
    let legend_bottom = find(&doc, "legend")
        .descendants()
        .filter_map(|n| n.attribute("y")?.parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(
        legend_bottom <= 16.0 + 12.0 + 8.0 + 240.0 / 3.0,
        "{legend_bottom}"
    );
}

#[test]
fn extreme_values_still_give_a_valid_chart() {
    for values in [
        vec![Decimal::MAX, Decimal::MIN],
        vec![Decimal::MAX],
        vec![Decimal::MIN],
        vec![d("0.0000000000000000000000000001")],
        vec![d("1000000000000"), d("-1000000000000")],
    ] {
        let spec = ChartSpec {
            series: vec![Series {
                name: "极值".to_owned(),
                points: values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{i}"), Some(*v)))
                    .collect(),
            }],
            width: 320,
            height: 200,
            ..sanming(ChartKind::Line)
        };
        check_invariants(&spec).unwrap();
        check_invariants(&ChartSpec {
            kind: ChartKind::Bar,
            ..spec
        })
        .unwrap();
    }
}
