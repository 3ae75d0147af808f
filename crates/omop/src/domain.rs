//! OMOP domains (`concept.domain_id`) and tables ↔ halsohub [`Domain`]s.

use halsohub_model::Domain;

use crate::cdm::Table;

/// The halsohub domain of an OMOP `domain_id` (case-insensitive):
/// `Condition` → diagnosis, `Drug` → prescribed drug (the record type
/// decides between dispensed, administered and prescribed, see
/// [`crate::concept::drug_domain`]), `Measurement` → lab result,
/// `Procedure` → procedure, `Observation` → observation, `Visit` →
/// encounter. Other domains (Device, Specimen, Gender, Unit, Type Concept,
/// Metadata, ...) have no halsohub domain.
pub fn domain_for_omop(domain_id: &str) -> Option<Domain> {
    let d = domain_id.trim();
    let pairs = [
        ("Condition", Domain::Diagnosis),
        ("Drug", Domain::PrescribedDrug),
        ("Measurement", Domain::LabResult),
        ("Procedure", Domain::Procedure),
        ("Observation", Domain::Observation),
        ("Visit", Domain::Encounter),
    ];
    pairs
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(d))
        .map(|(_, dom)| dom)
}

/// The OMOP `domain_id` of a halsohub domain (`Death` has none: death is
/// a table, not a domain).
pub fn omop_domain(domain: Domain) -> Option<&'static str> {
    match domain {
        Domain::Diagnosis => Some("Condition"),
        Domain::DispensedDrug | Domain::AdministeredDrug | Domain::PrescribedDrug => Some("Drug"),
        Domain::LabResult => Some("Measurement"),
        Domain::Procedure => Some("Procedure"),
        Domain::Observation => Some("Observation"),
        Domain::Encounter => Some("Visit"),
        Domain::Death => None,
    }
}

/// The CDM table that holds events of a halsohub domain.
pub fn table_for_domain(domain: Domain) -> Table {
    match domain {
        Domain::Diagnosis => Table::ConditionOccurrence,
        Domain::DispensedDrug | Domain::AdministeredDrug | Domain::PrescribedDrug => {
            Table::DrugExposure
        }
        Domain::LabResult => Table::Measurement,
        Domain::Procedure => Table::ProcedureOccurrence,
        Domain::Observation => Table::Observation,
        Domain::Encounter => Table::VisitOccurrence,
        Domain::Death => Table::Death,
    }
}

/// The halsohub domain of the events a CDM table holds (`drug_exposure`:
/// prescribed until its record type says otherwise); `None` for tables
/// that hold no events halsohub reads.
pub fn domain_for_table(table: Table) -> Option<Domain> {
    match table {
        Table::ConditionOccurrence => Some(Domain::Diagnosis),
        Table::DrugExposure => Some(Domain::PrescribedDrug),
        Table::Measurement => Some(Domain::LabResult),
        Table::ProcedureOccurrence => Some(Domain::Procedure),
        Table::Observation => Some(Domain::Observation),
        Table::VisitOccurrence => Some(Domain::Encounter),
        Table::Death => Some(Domain::Death),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_round_trip() {
        for d in Domain::ALL {
            let t = table_for_domain(d);
            let back = domain_for_table(t);
            assert!(back.is_some(), "{d:?}");
            if let Some(name) = omop_domain(d) {
                let o = domain_for_omop(name);
                assert_eq!(o.map(table_for_domain), Some(t), "{d:?}");
            }
        }
        assert_eq!(domain_for_omop("condition"), Some(Domain::Diagnosis));
        assert_eq!(domain_for_omop("Device"), None);
    }
}
