//! The table of numbers under each chart. Short tables are shown as they are; long ones fold
//! into a `<details>` (no script needed to open it) so the page stays readable, and wide ones
//! scroll sideways inside their own box instead of widening the page.

use super::markup::{Esc, w};

/// Tables with more rows than this start folded.
pub const FOLD_AFTER: usize = 12;

/// A column: its heading and whether it holds numbers (right-aligned, tabular figures).
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub title: &'a str,
    pub numeric: bool,
}

/// A text column.
pub fn text(title: &str) -> Column<'_> {
    Column {
        title,
        numeric: false,
    }
}

/// A numeric column.
pub fn number(title: &str) -> Column<'_> {
    Column {
        title,
        numeric: true,
    }
}

/// A table to write: its caption, columns and rows of already-formatted cells.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    pub caption: String,
    pub columns: Vec<Column<'a>>,
    pub rows: Vec<Vec<String>>,
    /// Rows marked with a class (for example a suspect day), by index.
    pub row_classes: Vec<(usize, &'static str)>,
}

impl<'a> Table<'a> {
    pub fn new(caption: impl Into<String>, columns: Vec<Column<'a>>) -> Table<'a> {
        Table {
            caption: caption.into(),
            columns,
            rows: Vec::new(),
            row_classes: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a row carrying `class`.
    pub fn marked_row(&mut self, cells: Vec<String>, class: &'static str) {
        self.row_classes.push((self.rows.len(), class));
        self.rows.push(cells);
    }

    /// Writes the table, folded under `summary` when it is long (or when `fold` says so).
    pub fn write(&self, out: &mut String, summary: &str, fold: Fold) {
        let folded = match fold {
            Fold::Auto => self.rows.len() > FOLD_AFTER,
            Fold::Always => true,
            Fold::Never => false,
        };
        if folded {
            // A table folded whatever its length is a full listing: it is left out of print.
            let class = if fold == Fold::Always {
                "numbers listing"
            } else {
                "numbers"
            };
            w!(
                out,
                "<details class=\"{class}\"><summary>{} ({} {})</summary>",
                Esc(summary),
                super::format::count(self.rows.len() as u64),
                if self.rows.len() == 1 { "row" } else { "rows" }
            );
        }
        out.push_str("<div class=\"table-wrap\"><table>");
        w!(out, "<caption>{}</caption><thead><tr>", Esc(&self.caption));
        for column in &self.columns {
            w!(
                out,
                "<th scope=\"col\"{}>{}</th>",
                if column.numeric { " class=\"num\"" } else { "" },
                Esc(column.title)
            );
        }
        out.push_str("</tr></thead><tbody>");
        if self.rows.is_empty() {
            w!(
                out,
                "<tr><td colspan=\"{}\" class=\"no-data\">no data</td></tr>",
                self.columns.len().max(1)
            );
        }
        let mut marks = self.row_classes.iter().peekable();
        for (i, row) in self.rows.iter().enumerate() {
            let mut class = None;
            while let Some((at, name)) = marks.peek() {
                if *at < i {
                    marks.next();
                } else {
                    if *at == i {
                        class = Some(*name);
                    }
                    break;
                }
            }
            match class {
                Some(name) => w!(out, "<tr class=\"{name}\">"),
                None => out.push_str("<tr>"),
            }
            for (j, cell) in row.iter().enumerate() {
                let numeric = self.columns.get(j).is_some_and(|c| c.numeric);
                w!(
                    out,
                    "<td{}>{}</td>",
                    if numeric { " class=\"num\"" } else { "" },
                    Esc(cell)
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        if folded {
            out.push_str("</details>");
        }
    }
}

/// Whether a table folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// When it has more than [`FOLD_AFTER`] rows.
    Auto,
    Always,
    /// Shown however long (a short list chosen to be read).
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tables_show_long_ones_fold_and_cells_are_escaped() {
        let mut table = Table::new("Routes <all>", vec![text("route"), number("OTP")]);
        table.row(vec!["<script>".to_owned(), "72.5%".to_owned()]);
        table.marked_row(vec!["b".to_owned(), "1".to_owned()], "suspect");
        let mut out = String::new();
        table.write(&mut out, "Numbers", Fold::Auto);
        assert!(!out.contains("<details"), "{out}");
        assert!(
            out.contains("<caption>Routes &lt;all&gt;</caption>"),
            "{out}"
        );
        assert!(
            out.contains("<td>&lt;script&gt;</td><td class=\"num\">72.5%</td>"),
            "{out}"
        );
        assert!(out.contains("<tr class=\"suspect\"><td>b</td>"), "{out}");
        assert!(!out.contains("<script>"), "{out}");

        for i in 0..FOLD_AFTER {
            table.row(vec![i.to_string(), String::new()]);
        }
        let mut out = String::new();
        table.write(&mut out, "Numbers", Fold::Auto);
        assert!(
            out.starts_with("<details class=\"numbers\"><summary>Numbers (14 rows)</summary>"),
            "{out}"
        );
        assert!(out.ends_with("</details>"), "{out}");
        assert_eq!(out.matches("class=\"suspect\"").count(), 1, "{out}");
    }

    #[test]
    fn an_empty_table_says_no_data() {
        let table = Table::new("x", vec![text("a"), text("b")]);
        let mut out = String::new();
        table.write(&mut out, "Numbers", Fold::Always);
        assert!(
            out.contains("<td colspan=\"2\" class=\"no-data\">no data</td>"),
            "{out}"
        );
        assert!(out.contains("(0 rows)"), "{out}");
    }
}
