//! Code tables: the diagnoses, drugs, lab analyses, procedures and specialty
//! codes the generator writes. Every code here must exist in the
//! `halsohub-codes` built-in lists (checked by a test).

/// A drug dispensed at a pharmacy, with its ATC code.
pub(crate) type Atc = &'static str;

// --- ICD-10-SE (dotted form; writers produce the data holder's variant) ---
pub(crate) const ICD_T2D: &str = "E11.9";
pub(crate) const ICD_T2D_KIDNEY: &str = "E11.2";
pub(crate) const ICD_HT: &str = "I10";
pub(crate) const ICD_HF: &str = "I50.9";
pub(crate) const ICD_HF_LEFT: &str = "I50.1";
pub(crate) const ICD_AF: &str = "I48.9";
pub(crate) const ICD_STROKE_INF: &str = "I63.9";
pub(crate) const ICD_STROKE_HEM: &str = "I61.9";
pub(crate) const ICD_STROKE_UNS: &str = "I64";
pub(crate) const ICD_STROKE_SEQ: &str = "I69.3";
pub(crate) const ICD_COPD: &str = "J44.9";
pub(crate) const ICD_COPD_EXAC: &str = "J44.1";
pub(crate) const ICD_ASTHMA: &str = "J45.9";
pub(crate) const ICD_CKD3: &str = "N18.3";
pub(crate) const ICD_CKD4: &str = "N18.4";
pub(crate) const ICD_CKD5: &str = "N18.5";
pub(crate) const ICD_DEPR: &str = "F32.9";
pub(crate) const ICD_DEPR_MOD: &str = "F32.1";
pub(crate) const ICD_DEPR_REC: &str = "F33.1";
pub(crate) const ICD_BREAST: &str = "C50.9";
pub(crate) const ICD_BREAST_UOQ: &str = "C50.4";
pub(crate) const ICD_PROSTATE: &str = "C61.9";
pub(crate) const ICD_COLON_SIG: &str = "C18.7";
pub(crate) const ICD_COLON_ASC: &str = "C18.2";
pub(crate) const ICD_RECTUM: &str = "C20.9";
pub(crate) const ICD_LIVER_MET: &str = "C78.7";
pub(crate) const ICD_BONE_MET: &str = "C79.5";
pub(crate) const ICD_RA: &str = "M06.9";
pub(crate) const ICD_MI: &str = "I21.9";
pub(crate) const ICD_PNEUMONIA: &str = "J18.9";
pub(crate) const ICD_HIP_FRACTURE: &str = "S72.0";
pub(crate) const ICD_WRIST_FRACTURE: &str = "S52.5";
pub(crate) const ICD_CHEST_PAIN: &str = "R07.4";
pub(crate) const ICD_ANAEMIA_CKD: &str = "D63.8";

/// Background reasons for primary-care visits: `(code, min age, max age,
/// weight)`; `antibiotic` is the drug usually dispensed, `crp` whether a CRP
/// is often taken.
pub(crate) struct Reason {
    pub code: &'static str,
    pub min_age: f64,
    pub max_age: f64,
    pub weight: u32,
    pub antibiotic: Option<Atc>,
    pub crp: bool,
}

pub(crate) static REASONS: [Reason; 17] = [
    reason("J06.9", 0.0, 120.0, 30, None, true),
    reason("H66.9", 0.0, 12.0, 12, Some("J01CE02"), false),
    reason("J02.9", 2.0, 120.0, 10, Some("J01CE02"), true),
    reason("N39.0", 15.0, 120.0, 12, Some("J01CA08"), true),
    reason("J20.9", 0.0, 120.0, 8, None, true),
    reason("L03.1", 5.0, 120.0, 4, Some("J01CF05"), true),
    reason("A09.9", 0.0, 120.0, 6, None, false),
    reason("M54.5", 18.0, 120.0, 14, None, false),
    reason("M17.9", 45.0, 120.0, 7, None, false),
    reason("K21.9", 18.0, 120.0, 5, None, false),
    reason("F41.1", 15.0, 120.0, 6, None, false),
    reason("G43.9", 12.0, 70.0, 4, None, false),
    reason("L20.9", 0.0, 120.0, 5, None, false),
    reason("E03.9", 20.0, 120.0, 4, None, false),
    reason("R10.4", 0.0, 120.0, 6, None, true),
    reason("Z00.0", 0.0, 120.0, 8, None, false),
    reason("E78.5", 40.0, 120.0, 5, None, false),
];

const fn reason(
    code: &'static str,
    min_age: f64,
    max_age: f64,
    weight: u32,
    antibiotic: Option<Atc>,
    crp: bool,
) -> Reason {
    Reason {
        code,
        min_age,
        max_age,
        weight,
        antibiotic,
        crp,
    }
}

/// Background causes of death by age: `(code, weight under 70, weight 70+)`.
pub(crate) static BACKGROUND_DEATH: [(&str, u32, u32); 10] = [
    ("I21.9", 12, 10),
    ("I25.1", 8, 14),
    ("C34.9", 14, 6),
    ("C25.9", 5, 3),
    ("J18.9", 3, 8),
    ("F03", 0, 14),
    ("G30.9", 1, 8),
    ("W19", 3, 4),
    ("X59", 8, 1),
    ("R99", 4, 3),
];

// --- ATC ---
pub(crate) const METFORMIN: Atc = "A10BA02";
pub(crate) const DAPAGLIFLOZIN: Atc = "A10BK01";
pub(crate) const SEMAGLUTIDE: Atc = "A10BJ06";
pub(crate) const LIRAGLUTIDE: Atc = "A10BJ02";
pub(crate) const GLARGINE: Atc = "A10AE04";
pub(crate) const RAMIPRIL: Atc = "C09AA05";
pub(crate) const CANDESARTAN: Atc = "C09CA06";
pub(crate) const AMLODIPINE: Atc = "C08CA01";
pub(crate) const HCTZ: Atc = "C03AA03";
pub(crate) const METOPROLOL: Atc = "C07AB02";
pub(crate) const BISOPROLOL: Atc = "C07AB07";
pub(crate) const FUROSEMIDE: Atc = "C03CA01";
pub(crate) const SPIRONOLACTONE: Atc = "C03DA01";
pub(crate) const SACUBITRIL_VALSARTAN: Atc = "C09DX04";
pub(crate) const ATORVASTATIN: Atc = "C10AA05";
pub(crate) const SIMVASTATIN: Atc = "C10AA01";
pub(crate) const APIXABAN: Atc = "B01AF02";
pub(crate) const RIVAROXABAN: Atc = "B01AF01";
pub(crate) const WARFARIN: Atc = "B01AA03";
pub(crate) const ASA: Atc = "B01AC06";
pub(crate) const CLOPIDOGREL: Atc = "B01AC04";
pub(crate) const TICAGRELOR: Atc = "B01AC24";
pub(crate) const TIOTROPIUM: Atc = "R03BB04";
pub(crate) const SALMETEROL_FLUTICASONE: Atc = "R03AK06";
pub(crate) const FORMOTEROL_BUDESONIDE: Atc = "R03AK07";
pub(crate) const SALBUTAMOL: Atc = "R03AC02";
pub(crate) const BUDESONIDE_INH: Atc = "R03BA02";
pub(crate) const PREDNISOLONE: Atc = "H02AB06";
pub(crate) const DOXYCYCLINE: Atc = "J01AA02";
pub(crate) const SERTRALINE: Atc = "N06AB06";
pub(crate) const ESCITALOPRAM: Atc = "N06AB10";
pub(crate) const MIRTAZAPINE: Atc = "N06AX11";
pub(crate) const TAMOXIFEN: Atc = "L02BA01";
pub(crate) const LETROZOLE: Atc = "L02BG04";
pub(crate) const ANASTROZOLE: Atc = "L02BG03";
pub(crate) const BICALUTAMIDE: Atc = "L02BB03";
pub(crate) const ENZALUTAMIDE: Atc = "L02BB04";
pub(crate) const CAPECITABINE: Atc = "L01BC06";
pub(crate) const METHOTREXATE: Atc = "L04AX03";
pub(crate) const PARACETAMOL: Atc = "N02BE01";

// Hospital-administered (rekvisitionsläkemedel)
pub(crate) const TRASTUZUMAB: Atc = "L01FD01";
pub(crate) const EPIRUBICIN: Atc = "L01DB03";
pub(crate) const CYCLOPHOSPHAMIDE: Atc = "L01AA01";
pub(crate) const PACLITAXEL: Atc = "L01CD01";
pub(crate) const OXALIPLATIN: Atc = "L01XA03";
pub(crate) const FLUOROURACIL: Atc = "L01BC02";
pub(crate) const BEVACIZUMAB: Atc = "L01FG01";
pub(crate) const LEUPRORELIN: Atc = "L02AE02";
pub(crate) const INFLIXIMAB: Atc = "L04AB02";
pub(crate) const IRON_PARENTERAL: Atc = "B03AC";
pub(crate) const EPOETIN: Atc = "B03XA01";
pub(crate) const ZOLEDRONIC: Atc = "M05BA08";

// --- KVÅ ---
pub(crate) const KVA_PCI: &str = "FNG05";
pub(crate) const KVA_CARDIOVERSION: &str = "DF027";
pub(crate) const KVA_CHEMOTHERAPY_IV: &str = "DT016";
pub(crate) const KVA_PARTIAL_MASTECTOMY: &str = "HAB40";
pub(crate) const KVA_MASTECTOMY: &str = "HAC10";
pub(crate) const KVA_RIGHT_HEMICOLECTOMY: &str = "JFB30";
pub(crate) const KVA_SIGMOID_RESECTION: &str = "JFB46";
pub(crate) const KVA_ANTERIOR_RESECTION: &str = "JGB00";
pub(crate) const KVA_COLONOSCOPY: &str = "UJF32";
pub(crate) const KVA_PROSTATECTOMY: &str = "KEC01";
pub(crate) const KVA_HEMODIALYSIS: &str = "DR016";
pub(crate) const KVA_HIP_ARTHROPLASTY: &str = "NFB49";

// --- specialty codes (MVO) ---
pub(crate) const MVO_MEDICINE: &str = "101";
pub(crate) const MVO_CARDIOLOGY: &str = "106";
pub(crate) const MVO_NEPHROLOGY: &str = "107";
pub(crate) const MVO_LUNG: &str = "116";
pub(crate) const MVO_RHEUMATOLOGY: &str = "131";
pub(crate) const MVO_NEUROLOGY: &str = "221";
pub(crate) const MVO_SURGERY: &str = "301";
pub(crate) const MVO_ORTHOPAEDICS: &str = "311";
pub(crate) const MVO_UROLOGY: &str = "361";
pub(crate) const MVO_ONCOLOGY: &str = "741";
pub(crate) const MVO_PSYCHIATRY: &str = "901";

/// A lab analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Analyte {
    HbA1c,
    Creatinine,
    Egfr,
    Ldl,
    NtProBnp,
    Potassium,
    Haemoglobin,
    Psa,
    Crp,
}

impl Analyte {
    pub(crate) fn npu(self) -> &'static str {
        match self {
            Analyte::HbA1c => "NPU27300",
            Analyte::Creatinine => "NPU18016",
            Analyte::Egfr => "SWE05406",
            Analyte::Ldl => "NPU01568",
            Analyte::NtProBnp => "NPU21571",
            Analyte::Potassium => "NPU03230",
            Analyte::Haemoglobin => "NPU28309",
            Analyte::Psa => "NPU08669",
            Analyte::Crp => "NPU19748",
        }
    }

    pub(crate) fn loinc(self) -> &'static str {
        match self {
            Analyte::HbA1c => "59261-8",
            Analyte::Creatinine => "14682-9",
            Analyte::Egfr => "62238-1",
            Analyte::Ldl => "13457-7",
            Analyte::NtProBnp => "33762-6",
            Analyte::Potassium => "2823-3",
            Analyte::Haemoglobin => "718-7",
            Analyte::Psa => "2857-1",
            Analyte::Crp => "1988-5",
        }
    }

    /// Number of decimals written.
    pub(crate) fn decimals(self) -> u32 {
        match self {
            Analyte::Ldl | Analyte::Potassium => 1,
            Analyte::Psa => 2,
            _ => 0,
        }
    }

    /// Unit per spelling style `[ucum, lower, greek]`.
    pub(crate) fn units(self) -> [&'static str; 3] {
        match self {
            Analyte::HbA1c => ["mmol/mol", "mmol/mol", "mmol/mol"],
            Analyte::Creatinine => ["µmol/L", "umol/l", "μmol/L"],
            Analyte::Egfr => ["mL/min/1,73m2", "ml/min/1.73m2", "mL/min/1.73m2"],
            Analyte::Ldl | Analyte::Potassium => ["mmol/L", "mmol/l", "mmol/L"],
            Analyte::NtProBnp => ["ng/L", "ng/l", "ng/L"],
            Analyte::Haemoglobin => ["g/L", "g/l", "g/L"],
            Analyte::Psa => ["µg/L", "ug/l", "μg/L"],
            Analyte::Crp => ["mg/L", "mg/l", "mg/L"],
        }
    }

    /// Reference interval as free text, by sex.
    pub(crate) fn reference(self, male: bool) -> &'static str {
        match (self, male) {
            (Analyte::HbA1c, _) => "27-42",
            (Analyte::Creatinine, true) => "60-105",
            (Analyte::Creatinine, false) => "45-90",
            (Analyte::Egfr, _) => ">60",
            (Analyte::Ldl, _) => "<3,0",
            (Analyte::NtProBnp, _) => "<300",
            (Analyte::Potassium, _) => "3,5-4,4",
            (Analyte::Haemoglobin, true) => "134-170",
            (Analyte::Haemoglobin, false) => "117-153",
            (Analyte::Psa, _) => "<3,0",
            (Analyte::Crp, _) => "<5",
        }
    }

    /// Values below this are written as `<limit` (detection limit).
    pub(crate) fn lower_limit(self) -> Option<(f64, &'static str)> {
        match self {
            Analyte::Crp => Some((5.0, "<5")),
            Analyte::Psa => Some((0.1, "<0,1")),
            Analyte::NtProBnp => Some((50.0, "<50")),
            _ => None,
        }
    }

    /// Values above this are written as `>limit`.
    pub(crate) fn upper_limit(self) -> Option<(f64, &'static str)> {
        match self {
            Analyte::Egfr => Some((90.0, ">90")),
            _ => None,
        }
    }
}

/// Deliberately unknown (but well-shaped) codes for the `unknown_code`
/// defect kind.
pub(crate) const UNKNOWN_ICD: [&str; 3] = ["D97.3", "E99.8", "D99.9"];
pub(crate) const UNKNOWN_ATC: [&str; 3] = ["A99AA01", "N99XA02", "C99ZZ03"];
pub(crate) const UNKNOWN_NPU: [&str; 2] = ["NPU99991", "NPU99987"];
/// LOINC-shaped codes with valid mod-10 check digits that do not exist.
pub(crate) const UNKNOWN_LOINC: [&str; 2] = ["99990-4", "99980-5"];

/// A six-digit product number (VARUNR) for a drug, stable per ATC code.
pub(crate) fn product_number(atc: &str, variant: u8) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for b in atc.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    100_000 + (h % 890_000) + u32::from(variant) * 1_013 % 9_000
}
