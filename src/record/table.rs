//! The macro that turns the one table of the record's fields (in [`schema`](super::schema))
//! into everything made from it: the [`Record`](super::Record) struct, [`FIELDS`](super::schema::FIELDS)
//! (names and rules), the field ids, the builder from validated cells and the cells back, from
//! which the canonical form is written. A field is added, renamed or re-ruled in one line.

/// What a field holds once its own rule holds: the validator's output and the canonical form's
/// input, whatever the field's Rust type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    Int(i64),
    Number(f64),
    /// Index into the field's allowed values.
    Choice(usize),
}

/// A field's Rust type, to and from its [`Cell`]. The validator's ranges make every
/// conversion exact; a cell of the wrong kind is a bug in the table, never a property of input.
pub(crate) trait CellValue: Sized {
    fn from_cell(cell: Cell) -> Self;
    fn to_cell(&self) -> Cell;
}

macro_rules! cell_int {
    ($($t:ty),+) => {$(
        impl CellValue for $t {
            fn from_cell(cell: Cell) -> Self {
                match cell {
                    Cell::Int(n) => n as $t,
                    other => unreachable!("an int field holds {other:?}"),
                }
            }
            fn to_cell(&self) -> Cell {
                Cell::Int(i64::from(*self))
            }
        }
    )+};
}
cell_int!(u8, u32);

impl CellValue for f64 {
    fn from_cell(cell: Cell) -> Self {
        match cell {
            Cell::Number(x) => x,
            Cell::Int(n) => n as f64,
            Cell::Choice(_) => unreachable!("a number field holds a choice"),
        }
    }
    fn to_cell(&self) -> Cell {
        Cell::Number(*self)
    }
}

/// A yes/no choice: its first allowed value (`Y`, `Oui`) is true.
impl CellValue for bool {
    fn from_cell(cell: Cell) -> Self {
        match cell {
            Cell::Choice(i) => i == 0,
            other => unreachable!("a yes/no field holds {other:?}"),
        }
    }
    fn to_cell(&self) -> Cell {
        Cell::Choice(usize::from(!*self))
    }
}

/// Declares the record from its table: `name: RustType = rule,` per field, in the contract's
/// order. Generates `Record`, `FieldId` (a field's position by name: `FieldId::age as usize`),
/// `FIELDS`, `Record::from_cells` and `Record::cells`.
macro_rules! record_fields {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty = $kind:expr ),+ $(,)?) => {
        /// A validated employee record: every field present (defaults applied), typed and in
        /// range, and the cross-field rules hold.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Record {
            $( $(#[$doc])* pub $name: $ty, )+
        }

        /// Each field by name; `as usize`, its position in [`FIELDS`].
        #[allow(non_camel_case_types, dead_code)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum FieldId { $($name),+ }

        /// Every field of the record, in the contract's order.
        pub const FIELDS: [Field; [$(stringify!($name)),+].len()] = [
            $( Field { name: stringify!($name), kind: $kind } ),+
        ];

        impl Record {
            /// The record from one valid cell per field, in [`FIELDS`] order.
            pub(crate) fn from_cells(cells: &[Cell; FIELDS.len()]) -> Self {
                Record {
                    $( $name: $crate::record::table::CellValue::from_cell(cells[FieldId::$name as usize]), )+
                }
            }

            /// The record's cells, in [`FIELDS`] order.
            pub(crate) fn cells(&self) -> [Cell; FIELDS.len()] {
                [ $( $crate::record::table::CellValue::to_cell(&self.$name) ),+ ]
            }
        }
    };
}
pub(crate) use record_fields;
