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

/// A county or district: code segment, name, whether it is an urban district (区,
/// whose townships are streets 街道 and villages communities 社区), and the region code
/// (GB/T 2260) its residents' ID numbers start with.
pub(crate) struct CountySeed {
    pub code: &'static str,
    pub name: &'static str,
    pub district: bool,
    /// The six-digit region code the demo's generated ID numbers carry (`people`). Where
    /// the county was renamed after 2012 it is the earlier code, because a number keeps
    /// the code it was issued with and the default demo's people were all born by 2012:
    /// 沙县 350427 (沙县区 350405 since 2021), 龙海市 350681 (龙海区 since 2021), 永定县
    /// 350822 (永定区 350803 since 2014).
    pub region_code: &'static str,
}

/// A city: code segment, landline area code, name, counties.
pub(crate) struct CitySeed {
    pub code: &'static str,
    /// The telephone area code, with its leading 0.
    pub area_code: &'static str,
    pub name: &'static str,
    pub counties: &'static [CountySeed],
}

const fn county(
    code: &'static str,
    name: &'static str,
    district: bool,
    region_code: &'static str,
) -> CountySeed {
    CountySeed {
        code,
        name,
        district,
        region_code,
    }
}

/// Fujian's nine prefecture-level cities, each with four real counties or districts.
pub(crate) const CITIES: [CitySeed; 9] = [
    CitySeed {
        code: "FZ",
        area_code: "0591",
        name: "福州市",
        counties: &[
            county("GL", "鼓楼区", true, "350102"),
            county("MH", "闽侯县", false, "350121"),
            county("FQ", "福清市", false, "350181"),
            county("LJ", "连江县", false, "350122"),
        ],
    },
    CitySeed {
        code: "XM",
        area_code: "0592",
        name: "厦门市",
        counties: &[
            county("SM", "思明区", true, "350203"),
            county("HL", "湖里区", true, "350206"),
            county("JM", "集美区", true, "350211"),
            county("XA", "翔安区", true, "350213"),
        ],
    },
    CitySeed {
        code: "PT",
        area_code: "0594",
        name: "莆田市",
        counties: &[
            county("CX", "城厢区", true, "350302"),
            county("HJ", "涵江区", true, "350303"),
            county("XY", "仙游县", false, "350322"),
            county("XH", "秀屿区", true, "350305"),
        ],
    },
    CitySeed {
        code: "SM",
        area_code: "0598",
        name: "三明市",
        counties: &[
            county("SX", "沙县区", true, "350427"),
            county("YA", "永安市", false, "350481"),
            county("MX", "明溪县", false, "350421"),
            county("YX", "尤溪县", false, "350426"),
        ],
    },
    CitySeed {
        code: "QZ",
        area_code: "0595",
        name: "泉州市",
        counties: &[
            county("LC", "鲤城区", true, "350502"),
            county("JJ", "晋江市", false, "350582"),
            county("NA", "南安市", false, "350583"),
            county("AX", "安溪县", false, "350524"),
        ],
    },
    CitySeed {
        code: "ZZ",
        area_code: "0596",
        name: "漳州市",
        counties: &[
            county("XC", "芗城区", true, "350602"),
            county("LH", "龙海区", true, "350681"),
            county("ZP", "漳浦县", false, "350623"),
            county("PH", "平和县", false, "350628"),
        ],
    },
    CitySeed {
        code: "NP",
        area_code: "0599",
        name: "南平市",
        counties: &[
            county("YP", "延平区", true, "350702"),
            county("JO", "建瓯市", false, "350783"),
            county("WYS", "武夷山市", false, "350782"),
            county("PC", "浦城县", false, "350722"),
        ],
    },
    CitySeed {
        code: "LY",
        area_code: "0597",
        name: "龙岩市",
        counties: &[
            county("XL", "新罗区", true, "350802"),
            county("CT", "长汀县", false, "350821"),
            county("SH", "上杭县", false, "350823"),
            county("YD", "永定区", true, "350822"),
        ],
    },
    CitySeed {
        code: "ND",
        area_code: "0593",
        name: "宁德市",
        counties: &[
            county("JC", "蕉城区", true, "350902"),
            county("FA", "福安市", false, "350981"),
            county("XP", "霞浦县", false, "350921"),
            county("GT", "古田县", false, "350922"),
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
