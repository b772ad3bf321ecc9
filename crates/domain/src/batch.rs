//! A batch of forms, read into one JSON form per row: a CSV file (a header row
//! of the form's field names, list fields separated by `;`) or a JSON array of
//! forms. Each row is then parsed exactly as a single form is
//! ([`crate::parse_onboarding`], [`crate::parse_offboarding`]), so a batch row
//! and a form give the same errors.
//!
//! Rows are numbered from 1: the first row after the header (or the array's
//! first element) is row 1. A problem of the whole batch (not CSV, an unknown
//! column, too many rows) refuses the batch; a problem of one row (a cell count
//! that does not match the header, a cell that is not a yes/no) rejects that row
//! only, with its field named.

use serde_json::{Map, Value as Json};

use crate::error::{DomainError, FieldError};
use crate::request::{OFFBOARDING_FIELDS, ONBOARDING_FIELDS, OffboardingActions};

/// The most rows one batch may hold; a bigger one is refused whole, before any
/// row is read, so a batch is either started or not.
pub const MAX_ROWS: usize = 5_000;

/// How a kind's form is written as a CSV row.
#[derive(Debug, Clone, Copy)]
pub struct CsvShape {
    /// The form's fields, each a column of text.
    fields: &'static [&'static str],
    /// Fields that are lists: a cell holds the items separated by `;`.
    lists: &'static [&'static str],
    /// Fields that are yes/no: `true`/`false`, `yes`/`no`, `1`/`0`.
    flags: &'static [&'static str],
    /// An object field written as one yes/no column per key (`actions.hide_from_gal`).
    nested: Option<(&'static str, &'static [&'static str])>,
}

/// The onboarding form as CSV.
pub const ONBOARDING_CSV: CsvShape = CsvShape {
    fields: ONBOARDING_FIELDS,
    lists: &["licenses", "groups", "shared_mailboxes"],
    flags: &[],
    nested: None,
};

/// The offboarding form as CSV: `actions` as one yes/no column per action.
pub const OFFBOARDING_CSV: CsvShape = CsvShape {
    fields: OFFBOARDING_FIELDS,
    lists: &[],
    flags: &["forward_keep_copy"],
    nested: Some(("actions", OffboardingActions::NAMES)),
};

/// One row of a batch: its number and its form, or why it could not be read.
pub type Row = (usize, Result<Json, Vec<FieldError>>);

fn refused(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::InvalidRequest {
        errors: vec![FieldError::new(field, message)],
    }
}

/// What a column of `shape` holds.
enum Column {
    Text(&'static str),
    List(&'static str),
    Flag(&'static str),
    Nested(&'static str, &'static str),
}

impl CsvShape {
    fn column(&self, name: &str) -> Option<Column> {
        if let Some((object, keys)) = self.nested
            && let Some(key) = name
                .strip_prefix(object)
                .and_then(|rest| rest.strip_prefix('.'))
        {
            return keys
                .iter()
                .find(|k| **k == key)
                .map(|k| Column::Nested(object, k));
        }
        let field = *self.fields.iter().find(|f| **f == name)?;
        if self.nested.is_some_and(|(object, _)| object == field) {
            // The object itself is written as its keys' columns.
            return None;
        }
        Some(if self.lists.contains(&field) {
            Column::List(field)
        } else if self.flags.contains(&field) {
            Column::Flag(field)
        } else {
            Column::Text(field)
        })
    }

    /// Every column name this shape takes, for the error naming an unknown one.
    fn column_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .iter()
            .filter(|f| self.nested.is_none_or(|(object, _)| object != **f))
            .map(|f| (*f).to_owned())
            .collect();
        if let Some((object, keys)) = self.nested {
            names.extend(keys.iter().map(|k| format!("{object}.{k}")));
        }
        names
    }
}

fn flag(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Reads a CSV batch of `shape`'s forms. The header names the columns (in any
/// order, each at most once, blank cells leave the field out); a UTF-8 byte order
/// mark, as spreadsheets write it, is skipped, and blank lines are ignored.
pub fn read_csv(text: &[u8], shape: &CsvShape) -> Result<Vec<Row>, DomainError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| refused("body", format!("is not CSV: {e}")))?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(refused(
            "body",
            "is empty: a batch starts with a header row of field names",
        ));
    }
    let mut columns = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if header.iter().take(i).any(|earlier| earlier == name) {
            return Err(refused("header", format!("names `{name}` twice")));
        }
        match shape.column(name) {
            Some(column) => columns.push(column),
            None => unknown.push(format!("`{name}`")),
        }
    }
    if !unknown.is_empty() {
        return Err(refused(
            "header",
            format!(
                "unknown column {}; the columns are {}",
                unknown.join(", "),
                shape.column_names().join(", ")
            ),
        ));
    }

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| refused("body", format!("is not CSV: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(refused(
                "body",
                format!("has more than {MAX_ROWS} rows; split the batch"),
            ));
        }
        let number = rows.len() + 1;
        if record.len() != columns.len() {
            rows.push((
                number,
                Err(vec![FieldError::new(
                    "row",
                    format!(
                        "has {} cells where the header has {}",
                        record.len(),
                        columns.len()
                    ),
                )]),
            ));
            continue;
        }
        rows.push((number, form_of(&columns, &record)));
    }
    Ok(rows)
}

fn form_of(columns: &[Column], record: &csv::StringRecord) -> Result<Json, Vec<FieldError>> {
    let mut form = Map::new();
    let mut errors = Vec::new();
    for (column, cell) in columns.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        match column {
            Column::Text(field) => {
                form.insert((*field).to_owned(), Json::String(cell.to_owned()));
            }
            Column::List(field) => {
                let items = cell
                    .split(';')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Json::String(item.to_owned()))
                    .collect();
                form.insert((*field).to_owned(), Json::Array(items));
            }
            Column::Flag(field) => match flag(cell) {
                Some(on) => {
                    form.insert((*field).to_owned(), Json::Bool(on));
                }
                None => errors.push(FieldError::new(
                    *field,
                    format!("`{cell}` is not yes or no (true/false, yes/no, 1/0)"),
                )),
            },
            Column::Nested(object, key) => match flag(cell) {
                Some(on) => {
                    let entry = form
                        .entry((*object).to_owned())
                        .or_insert_with(|| Json::Object(Map::new()));
                    if let Json::Object(map) = entry {
                        map.insert((*key).to_owned(), Json::Bool(on));
                    }
                }
                None => errors.push(FieldError::new(
                    format!("{object}.{key}"),
                    format!("`{cell}` is not yes or no (true/false, yes/no, 1/0)"),
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(Json::Object(form))
    } else {
        Err(errors)
    }
}

/// Reads a JSON batch: an array of form objects. An element that is not an
/// object rejects its row.
pub fn read_json(text: &[u8]) -> Result<Vec<Row>, DomainError> {
    let value: Json =
        serde_json::from_slice(text).map_err(|e| refused("body", format!("is not JSON: {e}")))?;
    let Json::Array(items) = value else {
        return Err(refused("body", "expected a JSON array of forms"));
    };
    if items.len() > MAX_ROWS {
        return Err(refused(
            "body",
            format!("has more than {MAX_ROWS} rows; split the batch"),
        ));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let row = match item {
                Json::Object(_) => Ok(item),
                _ => Err(vec![FieldError::new("row", "expected a JSON object")]),
            };
            (i + 1, row)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn forms(rows: Vec<Row>) -> Vec<Json> {
        rows.into_iter()
            .map(|(_, row)| row.expect("a form"))
            .collect()
    }

    #[test]
    fn a_csv_row_becomes_the_form_with_lists_split_and_blank_cells_left_out() {
        let csv = "\u{feff}organization,first_name,last_name,licenses,groups,job_title\n\
                   contoso, Megan ,Bowen,SPB; ENTERPRISEPACK,Sales;;All staff,\n\
                   \n\
                   contoso,Alex,Wilber,,,Buyer\n";
        let rows = read_csv(csv.as_bytes(), &ONBOARDING_CSV).unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            forms(rows),
            [
                json!({"organization": "contoso", "first_name": "Megan", "last_name": "Bowen",
                       "licenses": ["SPB", "ENTERPRISEPACK"], "groups": ["Sales", "All staff"]}),
                json!({"organization": "contoso", "first_name": "Alex", "last_name": "Wilber",
                       "job_title": "Buyer"}),
            ]
        );
    }

    #[test]
    fn quoted_cells_keep_their_commas_and_line_breaks() {
        let csv = "organization,first_name,last_name,office_location\n\
                   contoso,Megan,Bowen,\"Building 4, floor 2\"\n";
        let rows = forms(read_csv(csv.as_bytes(), &ONBOARDING_CSV).unwrap());
        assert_eq!(rows[0]["office_location"], "Building 4, floor 2");
    }

    #[test]
    fn an_unknown_or_repeated_column_refuses_the_batch_naming_it() {
        let err = read_csv(
            b"organization,first_name,last_name,licences\nc,a,b,SPB\n",
            &ONBOARDING_CSV,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("header") && text.contains("`licences`") && text.contains("licenses"),
            "{text}"
        );
        let err = read_csv(b"organization,organization\nc,c\n", &ONBOARDING_CSV).unwrap_err();
        assert!(
            err.to_string().contains("names `organization` twice"),
            "{err}"
        );
        let err = read_csv(b"", &ONBOARDING_CSV).unwrap_err();
        assert!(err.to_string().contains("header row"), "{err}");
    }

    #[test]
    fn a_row_with_the_wrong_cell_count_is_rejected_alone() {
        let csv = "organization,first_name,last_name\nc,a\nc,a,b\n";
        let rows = read_csv(csv.as_bytes(), &ONBOARDING_CSV).unwrap();
        assert_eq!(rows.len(), 2);
        let errors = rows[0].1.as_ref().unwrap_err();
        assert_eq!(errors[0].field, "row");
        assert!(errors[0].message.contains("2 cells"), "{errors:?}");
        assert!(rows[1].1.is_ok());
    }

    #[test]
    fn offboarding_actions_are_yes_no_columns_and_a_bad_one_is_named() {
        let csv = "organization,user_principal_name,actions.remove_licenses,actions.hide_from_gal,forward_keep_copy\n\
                   contoso,adele@contoso.com,yes,0,true\n\
                   contoso,alex@contoso.com,maybe,,\n";
        let rows = read_csv(csv.as_bytes(), &OFFBOARDING_CSV).unwrap();
        assert_eq!(
            rows[0].1.as_ref().unwrap(),
            &json!({"organization": "contoso", "user_principal_name": "adele@contoso.com",
                    "actions": {"remove_licenses": true, "hide_from_gal": false},
                    "forward_keep_copy": true})
        );
        let errors = rows[1].1.as_ref().unwrap_err();
        assert_eq!(errors[0].field, "actions.remove_licenses");
        // `actions` as one column is not how a CSV says it.
        let err = read_csv(b"organization,actions\nc,x\n", &OFFBOARDING_CSV).unwrap_err();
        assert!(err.to_string().contains("actions.deactivate_user"), "{err}");
    }

    #[test]
    fn a_batch_over_the_limit_is_refused_whole() {
        let mut csv = String::from("organization,first_name,last_name\n");
        for i in 0..=MAX_ROWS {
            csv.push_str(&format!("c,a{i},b\n"));
        }
        let err = read_csv(csv.as_bytes(), &ONBOARDING_CSV).unwrap_err();
        assert!(err.to_string().contains("more than 5000 rows"), "{err}");
    }

    #[test]
    fn a_json_batch_is_an_array_of_objects() {
        let rows = read_json(br#"[{"organization": "c"}, 3]"#).unwrap();
        assert!(rows[0].1.is_ok());
        assert_eq!(rows[1].0, 2);
        assert!(rows[1].1.is_err());
        assert!(read_json(br#"{"organization": "c"}"#).is_err());
        assert!(read_json(b"organization,first_name").is_err());
    }
}
