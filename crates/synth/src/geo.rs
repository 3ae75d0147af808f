//! Geography and care providers: the 21 regions with their län codes,
//! populations, kommun codes and the per-region quirks of their files.

/// How a data holder writes the identity column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdStyle {
    /// `YYYYMMDDNNNC`
    Twelve,
    /// `YYYYMMDD-NNNC`
    TwelveDash,
    /// `YYMMDD-NNNC` (or `+` from the year the person turns 100)
    TenDash,
    /// `YYMMDDNNNC`
    Ten,
}

/// How a region's primary-care system writes ICD-10 codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiagStyle {
    /// `E11.9`
    Dotted,
    /// `E119`
    Compact,
    /// `e11.9`
    LowerDotted,
}

/// How a region's lab system spells units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitStyle {
    /// `µmol/L`, `mmol/L`, `ng/L` (micro sign U+00B5)
    Ucum,
    /// `umol/l`, `mmol/l`, `ng/l`
    Lower,
    /// `μmol/L` (Greek mu U+03BC), `mmol/L`
    Greek,
}

/// Static description of one region.
pub(crate) struct RegionDef {
    /// Two-digit län code.
    pub lan: &'static str,
    #[allow(dead_code)] // names the row for readers of the table
    pub name: &'static str,
    /// Population in thousands (2023, rounded).
    pub population_k: u32,
    /// Organisation number used in HSA-id-like care-unit codes.
    pub org: &'static str,
    /// Name of the university hospital, when the region has one.
    pub university: Option<&'static str>,
    /// County and local hospitals.
    pub hospitals: &'static [&'static str],
    /// `(kommun code, population in thousands)`.
    pub kommuner: &'static [(&'static str, u32)],
    pub id_style: IdStyle,
    pub diag_style: DiagStyle,
    pub unit_style: UnitStyle,
    /// Lab codes written as LOINC instead of NPU.
    pub loinc: bool,
    /// UTF-8 byte-order mark at the start of its files.
    pub bom: bool,
    /// Visit dates written `YYYY-MM-DD` (else `YYYYMMDD`).
    pub iso_dates: bool,
    /// Share of primary-care visits that carry a diagnosis code.
    pub coding: f64,
}

use DiagStyle::*;
use IdStyle::*;
use UnitStyle::*;

pub(crate) static REGIONS: [RegionDef; 21] = [
    RegionDef {
        lan: "01",
        name: "Stockholm",
        population_k: 2454,
        org: "2321000016",
        university: Some("Karolinska universitetssjukhuset"),
        hospitals: &[
            "Södersjukhuset",
            "Danderyds sjukhus",
            "Södertälje sjukhus",
            "Norrtälje sjukhus",
        ],
        kommuner: &[
            ("0114", 48),
            ("0115", 35),
            ("0117", 47),
            ("0120", 47),
            ("0123", 84),
            ("0125", 29),
            ("0126", 114),
            ("0127", 97),
            ("0128", 18),
            ("0136", 98),
            ("0138", 49),
            ("0139", 31),
            ("0140", 12),
            ("0160", 75),
            ("0162", 33),
            ("0163", 76),
            ("0180", 985),
            ("0181", 102),
            ("0182", 109),
            ("0183", 54),
            ("0184", 84),
            ("0186", 48),
            ("0187", 12),
            ("0188", 64),
            ("0191", 51),
            ("0192", 29),
        ],
        id_style: Twelve,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.93,
    },
    RegionDef {
        lan: "03",
        name: "Uppsala",
        population_k: 404,
        org: "2321000024",
        university: Some("Akademiska sjukhuset"),
        hospitals: &["Lasarettet i Enköping"],
        kommuner: &[
            ("0305", 22),
            ("0319", 10),
            ("0330", 20),
            ("0331", 14),
            ("0360", 21),
            ("0380", 242),
            ("0381", 47),
            ("0382", 22),
        ],
        id_style: TenDash,
        diag_style: Compact,
        unit_style: Lower,
        loinc: false,
        bom: true,
        iso_dates: true,
        coding: 0.88,
    },
    RegionDef {
        lan: "04",
        name: "Södermanland",
        population_k: 301,
        org: "2321000032",
        university: None,
        hospitals: &[
            "Mälarsjukhuset",
            "Nyköpings lasarett",
            "Kullbergska sjukhuset",
        ],
        kommuner: &[
            ("0428", 9),
            ("0461", 11),
            ("0480", 58),
            ("0481", 12),
            ("0482", 16),
            ("0483", 34),
            ("0484", 107),
            ("0486", 38),
            ("0488", 13),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.80,
    },
    RegionDef {
        lan: "05",
        name: "Östergötland",
        population_k: 469,
        org: "2321000040",
        university: Some("Universitetssjukhuset i Linköping"),
        hospitals: &["Vrinnevisjukhuset", "Lasarettet i Motala"],
        kommuner: &[
            ("0509", 5),
            ("0512", 4),
            ("0513", 10),
            ("0560", 5),
            ("0561", 12),
            ("0562", 22),
            ("0563", 8),
            ("0580", 167),
            ("0581", 145),
            ("0582", 17),
            ("0583", 44),
            ("0584", 8),
            ("0586", 28),
        ],
        id_style: Twelve,
        diag_style: Compact,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: false,
        coding: 0.95,
    },
    RegionDef {
        lan: "06",
        name: "Jönköping",
        population_k: 369,
        org: "2321000057",
        university: None,
        hospitals: &[
            "Länssjukhuset Ryhov",
            "Höglandssjukhuset",
            "Värnamo sjukhus",
        ],
        kommuner: &[
            ("0604", 7),
            ("0617", 10),
            ("0642", 7),
            ("0643", 13),
            ("0662", 30),
            ("0665", 14),
            ("0680", 144),
            ("0682", 31),
            ("0683", 35),
            ("0684", 11),
            ("0685", 27),
            ("0686", 17),
            ("0687", 19),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Greek,
        loinc: false,
        bom: true,
        iso_dates: true,
        coding: 0.97,
    },
    RegionDef {
        lan: "07",
        name: "Kronoberg",
        population_k: 203,
        org: "2321000065",
        university: None,
        hospitals: &["Centrallasarettet Växjö", "Ljungby lasarett"],
        kommuner: &[
            ("0760", 9),
            ("0761", 9),
            ("0763", 12),
            ("0764", 20),
            ("0765", 16),
            ("0767", 10),
            ("0780", 96),
            ("0781", 28),
        ],
        id_style: TenDash,
        diag_style: LowerDotted,
        unit_style: Lower,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.78,
    },
    RegionDef {
        lan: "08",
        name: "Kalmar",
        population_k: 246,
        org: "2321000073",
        university: None,
        hospitals: &[
            "Länssjukhuset i Kalmar",
            "Västerviks sjukhus",
            "Oskarshamns sjukhus",
        ],
        kommuner: &[
            ("0821", 6),
            ("0834", 7),
            ("0840", 15),
            ("0860", 14),
            ("0861", 13),
            ("0862", 11),
            ("0880", 72),
            ("0881", 20),
            ("0882", 27),
            ("0883", 37),
            ("0884", 16),
            ("0885", 11),
        ],
        id_style: Twelve,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.90,
    },
    RegionDef {
        lan: "09",
        name: "Gotland",
        population_k: 61,
        org: "2120000803",
        university: None,
        hospitals: &["Visby lasarett"],
        kommuner: &[("0980", 61)],
        id_style: TenDash,
        diag_style: Compact,
        unit_style: Lower,
        loinc: false,
        bom: false,
        iso_dates: false,
        coding: 0.70,
    },
    RegionDef {
        lan: "10",
        name: "Blekinge",
        population_k: 157,
        org: "2321000081",
        university: None,
        hospitals: &[
            "Blekingesjukhuset Karlskrona",
            "Blekingesjukhuset Karlshamn",
        ],
        kommuner: &[
            ("1060", 13),
            ("1080", 67),
            ("1081", 29),
            ("1082", 32),
            ("1083", 17),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: true,
        iso_dates: true,
        coding: 0.85,
    },
    RegionDef {
        lan: "12",
        name: "Skåne",
        population_k: 1414,
        org: "2321000255",
        university: Some("Skånes universitetssjukhus"),
        hospitals: &[
            "Helsingborgs lasarett",
            "Centralsjukhuset Kristianstad",
            "Ystads lasarett",
            "Hässleholms sjukhus",
            "Ängelholms sjukhus",
            "Lasarettet i Trelleborg",
        ],
        kommuner: &[
            ("1214", 14),
            ("1230", 26),
            ("1231", 19),
            ("1233", 37),
            ("1256", 15),
            ("1257", 10),
            ("1260", 16),
            ("1261", 32),
            ("1262", 25),
            ("1263", 23),
            ("1264", 16),
            ("1265", 19),
            ("1266", 16),
            ("1267", 17),
            ("1270", 13),
            ("1272", 13),
            ("1273", 13),
            ("1275", 7),
            ("1276", 18),
            ("1277", 16),
            ("1278", 15),
            ("1280", 360),
            ("1281", 128),
            ("1282", 46),
            ("1283", 151),
            ("1284", 28),
            ("1285", 34),
            ("1286", 31),
            ("1287", 46),
            ("1290", 86),
            ("1291", 19),
            ("1292", 43),
            ("1293", 53),
        ],
        id_style: Twelve,
        diag_style: Compact,
        unit_style: Ucum,
        loinc: true,
        bom: false,
        iso_dates: true,
        coding: 0.92,
    },
    RegionDef {
        lan: "13",
        name: "Halland",
        population_k: 340,
        org: "2321000115",
        university: None,
        hospitals: &["Hallands sjukhus Halmstad", "Hallands sjukhus Varberg"],
        kommuner: &[
            ("1315", 11),
            ("1380", 105),
            ("1381", 26),
            ("1382", 47),
            ("1383", 67),
            ("1384", 85),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.96,
    },
    RegionDef {
        lan: "14",
        name: "Västra Götaland",
        population_k: 1744,
        org: "2321000131",
        university: Some("Sahlgrenska universitetssjukhuset"),
        hospitals: &[
            "Södra Älvsborgs sjukhus",
            "Skaraborgs sjukhus Skövde",
            "NU-sjukvården",
            "Alingsås lasarett",
            "Kungälvs sjukhus",
        ],
        kommuner: &[
            ("1401", 39),
            ("1402", 39),
            ("1407", 13),
            ("1415", 27),
            ("1419", 16),
            ("1421", 15),
            ("1427", 9),
            ("1430", 10),
            ("1435", 13),
            ("1438", 5),
            ("1439", 7),
            ("1440", 32),
            ("1441", 44),
            ("1442", 12),
            ("1443", 10),
            ("1444", 6),
            ("1445", 6),
            ("1446", 7),
            ("1447", 5),
            ("1452", 12),
            ("1460", 10),
            ("1461", 9),
            ("1462", 14),
            ("1463", 35),
            ("1465", 11),
            ("1466", 9),
            ("1470", 16),
            ("1471", 13),
            ("1472", 11),
            ("1473", 9),
            ("1480", 600),
            ("1481", 70),
            ("1482", 48),
            ("1484", 15),
            ("1485", 57),
            ("1486", 13),
            ("1487", 40),
            ("1488", 60),
            ("1489", 42),
            ("1490", 115),
            ("1491", 25),
            ("1492", 13),
            ("1493", 24),
            ("1494", 40),
            ("1495", 19),
            ("1496", 57),
            ("1497", 9),
            ("1498", 13),
            ("1499", 34),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: true,
        bom: true,
        iso_dates: true,
        coding: 0.91,
    },
    RegionDef {
        lan: "17",
        name: "Värmland",
        population_k: 283,
        org: "2321000156",
        university: None,
        hospitals: &[
            "Centralsjukhuset Karlstad",
            "Arvika sjukhus",
            "Torsby sjukhus",
        ],
        kommuner: &[
            ("1715", 12),
            ("1730", 8),
            ("1737", 11),
            ("1760", 4),
            ("1761", 17),
            ("1762", 4),
            ("1763", 11),
            ("1764", 9),
            ("1765", 10),
            ("1766", 13),
            ("1780", 95),
            ("1781", 24),
            ("1782", 10),
            ("1783", 12),
            ("1784", 26),
            ("1785", 15),
        ],
        id_style: TenDash,
        diag_style: Compact,
        unit_style: Lower,
        loinc: false,
        bom: false,
        iso_dates: false,
        coding: 0.82,
    },
    RegionDef {
        lan: "18",
        name: "Örebro",
        population_k: 306,
        org: "2321000164",
        university: Some("Universitetssjukhuset Örebro"),
        hospitals: &["Karlskoga lasarett", "Lindesbergs lasarett"],
        kommuner: &[
            ("1814", 8),
            ("1860", 6),
            ("1861", 16),
            ("1862", 9),
            ("1863", 7),
            ("1864", 5),
            ("1880", 158),
            ("1881", 22),
            ("1882", 11),
            ("1883", 30),
            ("1884", 11),
            ("1885", 23),
        ],
        id_style: Twelve,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.94,
    },
    RegionDef {
        lan: "19",
        name: "Västmanland",
        population_k: 279,
        org: "2321000172",
        university: None,
        hospitals: &["Västmanlands sjukhus Västerås", "Köpings lasarett"],
        kommuner: &[
            ("1904", 4),
            ("1907", 10),
            ("1960", 9),
            ("1961", 16),
            ("1962", 6),
            ("1980", 157),
            ("1981", 23),
            ("1982", 13),
            ("1983", 26),
            ("1984", 14),
        ],
        id_style: Ten,
        diag_style: Compact,
        unit_style: Ucum,
        loinc: false,
        bom: true,
        iso_dates: true,
        coding: 0.87,
    },
    RegionDef {
        lan: "20",
        name: "Dalarna",
        population_k: 288,
        org: "2321000180",
        university: None,
        hospitals: &["Falu lasarett", "Mora lasarett", "Ludvika lasarett"],
        kommuner: &[
            ("2021", 7),
            ("2023", 10),
            ("2026", 10),
            ("2029", 15),
            ("2031", 11),
            ("2034", 7),
            ("2039", 7),
            ("2061", 11),
            ("2062", 20),
            ("2080", 60),
            ("2081", 52),
            ("2082", 11),
            ("2083", 15),
            ("2084", 23),
            ("2085", 26),
        ],
        id_style: TwelveDash,
        diag_style: LowerDotted,
        unit_style: Greek,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.76,
    },
    RegionDef {
        lan: "21",
        name: "Gävleborg",
        population_k: 288,
        org: "2321000198",
        university: None,
        hospitals: &["Gävle sjukhus", "Hudiksvalls sjukhus", "Bollnäs sjukhus"],
        kommuner: &[
            ("2101", 6),
            ("2104", 9),
            ("2121", 11),
            ("2132", 9),
            ("2161", 19),
            ("2180", 103),
            ("2181", 40),
            ("2182", 26),
            ("2183", 26),
            ("2184", 37),
        ],
        id_style: Twelve,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.89,
    },
    RegionDef {
        lan: "22",
        name: "Västernorrland",
        population_k: 244,
        org: "2321000206",
        university: None,
        hospitals: &[
            "Sundsvalls sjukhus",
            "Örnsköldsviks sjukhus",
            "Sollefteå sjukhus",
        ],
        kommuner: &[
            ("2260", 9),
            ("2262", 18),
            ("2280", 25),
            ("2281", 99),
            ("2282", 18),
            ("2283", 19),
            ("2284", 56),
        ],
        id_style: TenDash,
        diag_style: Compact,
        unit_style: Lower,
        loinc: false,
        bom: false,
        iso_dates: false,
        coding: 0.84,
    },
    RegionDef {
        lan: "23",
        name: "Jämtland Härjedalen",
        population_k: 132,
        org: "2321000214",
        university: None,
        hospitals: &["Östersunds sjukhus"],
        kommuner: &[
            ("2303", 5),
            ("2305", 6),
            ("2309", 15),
            ("2313", 11),
            ("2321", 12),
            ("2326", 7),
            ("2361", 10),
            ("2380", 65),
        ],
        id_style: TwelveDash,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: true,
        iso_dates: true,
        coding: 0.81,
    },
    RegionDef {
        lan: "24",
        name: "Västerbotten",
        population_k: 275,
        org: "2321000222",
        university: Some("Norrlands universitetssjukhus"),
        hospitals: &["Skellefteå lasarett", "Lycksele lasarett"],
        kommuner: &[
            ("2401", 7),
            ("2403", 2),
            ("2404", 5),
            ("2409", 7),
            ("2417", 4),
            ("2418", 3),
            ("2421", 6),
            ("2422", 2),
            ("2425", 3),
            ("2460", 9),
            ("2462", 7),
            ("2463", 3),
            ("2480", 132),
            ("2481", 12),
            ("2482", 74),
        ],
        id_style: Twelve,
        diag_style: Dotted,
        unit_style: Ucum,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.93,
    },
    RegionDef {
        lan: "25",
        name: "Norrbotten",
        population_k: 249,
        org: "2321000230",
        university: None,
        hospitals: &[
            "Sunderby sjukhus",
            "Gällivare sjukhus",
            "Kiruna sjukhus",
            "Piteå älvdals sjukhus",
        ],
        kommuner: &[
            ("2505", 6),
            ("2506", 3),
            ("2510", 5),
            ("2513", 3),
            ("2514", 16),
            ("2518", 4),
            ("2521", 6),
            ("2523", 17),
            ("2560", 8),
            ("2580", 80),
            ("2581", 43),
            ("2582", 28),
            ("2583", 10),
            ("2584", 22),
        ],
        id_style: TenDash,
        diag_style: Compact,
        unit_style: Lower,
        loinc: false,
        bom: false,
        iso_dates: true,
        coding: 0.79,
    },
];

/// Number of regions.
pub(crate) const N_REGIONS: usize = REGIONS.len();

/// A hospital as the patient register codes it.
#[derive(Debug, Clone)]
pub(crate) struct Hospital {
    /// Five digits, the first two the län.
    pub code: [u8; 5],
    pub university: bool,
    pub private: bool,
}

/// A primary care unit (vårdcentral) with an HSA-id-like code.
#[derive(Debug, Clone)]
pub(crate) struct CareUnit {
    pub code: String,
}

/// The providers of one region, derived deterministically from the tables.
#[derive(Debug, Clone)]
pub(crate) struct RegionProviders {
    pub hospitals: Vec<Hospital>,
    pub care_units: Vec<CareUnit>,
    /// Cumulative kommun weights for sampling.
    pub kommun_cum: Vec<u32>,
}

/// All regions' providers plus the cumulative population weights.
#[derive(Debug, Clone)]
pub(crate) struct Geography {
    pub regions: Vec<RegionProviders>,
    pub region_cum: Vec<u32>,
}

fn five(lan: &str, n: u32) -> [u8; 5] {
    let l = lan.as_bytes();
    let a = l.first().copied().unwrap_or(b'0');
    let b = l.get(1).copied().unwrap_or(b'0');
    [
        a,
        b,
        b'0' + ((n / 100) % 10) as u8,
        b'0' + ((n / 10) % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

impl Geography {
    pub(crate) fn new() -> Self {
        let mut regions = Vec::with_capacity(N_REGIONS);
        let mut region_cum = Vec::with_capacity(N_REGIONS);
        let mut acc = 0u32;
        for r in &REGIONS {
            acc += r.population_k;
            region_cum.push(acc);
            let mut hospitals = Vec::new();
            if r.university.is_some() {
                hospitals.push(Hospital {
                    code: five(r.lan, 1),
                    university: true,
                    private: false,
                });
            }
            for (i, _) in r.hospitals.iter().enumerate() {
                hospitals.push(Hospital {
                    code: five(r.lan, 10 + 10 * i as u32),
                    university: false,
                    private: false,
                });
            }
            // Private specialist providers, more of them in the big regions.
            let n_private = 1 + r.population_k / 600;
            for i in 0..n_private {
                hospitals.push(Hospital {
                    code: five(r.lan, 901 + i),
                    university: false,
                    private: true,
                });
            }
            // About one vårdcentral per 9 000 inhabitants; about a third private.
            let n_units = (r.population_k / 9).max(3);
            let care_units = (0..n_units)
                .map(|i| {
                    let code = if i % 3 == 2 {
                        // private provider: an aktiebolag's organisation number
                        format!("SE55{:08}-P{:03}", 60_000_000 + i * 7919 % 1_000_000, i)
                    } else {
                        format!("SE{}-V{:03}", r.org, i)
                    };
                    CareUnit { code }
                })
                .collect();
            let mut kommun_cum = Vec::with_capacity(r.kommuner.len());
            let mut k = 0u32;
            for (_, w) in r.kommuner {
                k += (*w).max(1);
                kommun_cum.push(k);
            }
            regions.push(RegionProviders {
                hospitals,
                care_units,
                kommun_cum,
            });
        }
        Geography {
            regions,
            region_cum,
        }
    }
}

/// Index into cumulative weights for a draw in `0..total`.
pub(crate) fn pick_cum(cum: &[u32], draw: u32) -> usize {
    cum.partition_point(|&c| c <= draw)
        .min(cum.len().saturating_sub(1))
}
