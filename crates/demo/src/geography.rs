//! The demo province: 福建省 with its nine cities and real county and district names;
//! townships and villages get generated, plausible names.
//!
//! Unit codes follow the shape the domain's examples use, one segment per level:
//! `FJ` (province), `FJ-SM` (city), `FJ-SM-SX` (county), `FJ-SM-SX-03` (township),
//! `FJ-SM-SX-03-012` (village).

use rand::rngs::StdRng;
use rand::Rng;

/// The province: code and the association's name.
pub(crate) const PROVINCE: (&str, &str) = ("FJ", "福建省");

/// A county or district: code segment, name, and whether it is an urban district
/// (区, whose townships are streets 街道 and villages communities 社区).
pub(crate) struct CountySeed {
    pub code: &'static str,
    pub name: &'static str,
    pub district: bool,
}

/// A city: code segment, name, counties.
pub(crate) struct CitySeed {
    pub code: &'static str,
    pub name: &'static str,
    pub counties: &'static [CountySeed],
}

const fn county(code: &'static str, name: &'static str, district: bool) -> CountySeed {
    CountySeed {
        code,
        name,
        district,
    }
}

/// Fujian's nine prefecture-level cities, each with four real counties or districts.
pub(crate) const CITIES: [CitySeed; 9] = [
    CitySeed {
        code: "FZ",
        name: "福州市",
        counties: &[
            county("GL", "鼓楼区", true),
            county("MH", "闽侯县", false),
            county("FQ", "福清市", false),
            county("LJ", "连江县", false),
        ],
    },
    CitySeed {
        code: "XM",
        name: "厦门市",
        counties: &[
            county("SM", "思明区", true),
            county("HL", "湖里区", true),
            county("JM", "集美区", true),
            county("XA", "翔安区", true),
        ],
    },
    CitySeed {
        code: "PT",
        name: "莆田市",
        counties: &[
            county("CX", "城厢区", true),
            county("HJ", "涵江区", true),
            county("XY", "仙游县", false),
            county("XH", "秀屿区", true),
        ],
    },
    CitySeed {
        code: "SM",
        name: "三明市",
        counties: &[
            county("SX", "沙县区", true),
            county("YA", "永安市", false),
            county("MX", "明溪县", false),
            county("YX", "尤溪县", false),
        ],
    },
    CitySeed {
        code: "QZ",
        name: "泉州市",
        counties: &[
            county("LC", "鲤城区", true),
            county("JJ", "晋江市", false),
            county("NA", "南安市", false),
            county("AX", "安溪县", false),
        ],
    },
    CitySeed {
        code: "ZZ",
        name: "漳州市",
        counties: &[
            county("XC", "芗城区", true),
            county("LH", "龙海区", true),
            county("ZP", "漳浦县", false),
            county("PH", "平和县", false),
        ],
    },
    CitySeed {
        code: "NP",
        name: "南平市",
        counties: &[
            county("YP", "延平区", true),
            county("JO", "建瓯市", false),
            county("WYS", "武夷山市", false),
            county("PC", "浦城县", false),
        ],
    },
    CitySeed {
        code: "LY",
        name: "龙岩市",
        counties: &[
            county("XL", "新罗区", true),
            county("CT", "长汀县", false),
            county("SH", "上杭县", false),
            county("YD", "永定区", true),
        ],
    },
    CitySeed {
        code: "ND",
        name: "宁德市",
        counties: &[
            county("JC", "蕉城区", true),
            county("FA", "福安市", false),
            county("XP", "霞浦县", false),
            county("GT", "古田县", false),
        ],
    },
];

/// Townships per county and villages per township: the geography does not scale.
pub(crate) const TOWNSHIPS_PER_COUNTY: usize = 3;
pub(crate) const VILLAGES_PER_TOWNSHIP: usize = 4;

/// First characters of place names, common in Fujian toponyms.
const PLACE_FIRST: [&str; 40] = [
    "东", "西", "南", "北", "上", "下", "大", "小", "新", "古", "青", "白", "洪", "林", "高", "后",
    "前", "溪", "石", "龙", "凤", "梅", "桃", "竹", "松", "安", "永", "长", "清", "福", "乐", "和",
    "兴", "茶", "湖", "金", "玉", "华", "德", "仁",
];
/// Second characters of place names.
const PLACE_SECOND: [&str; 40] = [
    "山", "坑", "洋", "溪", "田", "岭", "口", "坂", "厝", "墩", "埔", "头", "塘", "湾", "洲", "林",
    "峰", "源", "岩", "亭", "桥", "阳", "平", "丰", "宁", "美", "江", "屿", "浦", "港", "岐", "垅",
    "坪", "寨", "沙", "园", "庄", "里", "后", "尾",
];

/// A two-character place name.
pub(crate) fn place_name(rng: &mut StdRng) -> String {
    let first = PLACE_FIRST[rng.gen_range(0..PLACE_FIRST.len())];
    let mut second = PLACE_SECOND[rng.gen_range(0..PLACE_SECOND.len())];
    if second == first {
        second = "阳";
    }
    format!("{first}{second}")
}

/// A township's name: a street (街道) in an urban district, a town (镇) or township (乡) in a county.
pub(crate) fn township_name(rng: &mut StdRng, district: bool) -> String {
    let place = place_name(rng);
    if district {
        format!("{place}街道")
    } else if rng.gen_ratio(3, 4) {
        format!("{place}镇")
    } else {
        format!("{place}乡")
    }
}

/// A village's name: a community (社区) under a street, a village (村) otherwise.
pub(crate) fn village_name(rng: &mut StdRng, district: bool) -> String {
    let place = place_name(rng);
    if district {
        format!("{place}社区")
    } else {
        format!("{place}村")
    }
}
