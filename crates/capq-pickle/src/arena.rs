//! The objects a pickle builds, held in an arena and addressed by handles, and their final
//! conversion into [`Value`] trees.
//!
//! Pickles share objects: the memo lets GET push the same list twice, and Python appends to a
//! list *after* memoizing it, so a later GET must see every item appended since. An arena of
//! mutable nodes gives exactly Python's object identity without reference counting. Only when
//! STOP is reached is the graph copied into a `Value` tree, with cycles refused, nesting bounded
//! and every copied item counted, so shared references cannot expand exponentially.
//!
//! Dicts and sets follow Python's equality rules (`1 == 1.0 == True`, `-0.0 == 0`, tuples and
//! frozensets by content), since Python dedupes on load and a later SETITEM with an equal key
//! replaces the value. Hashes are computed once, when an immutable node is created, with
//! random keys, and NaN hashes by identity as in Python 3.10+; equality work is budgeted, so
//! crafted keys cannot make comparison expensive.
//!
//! Handles are only ever created by [`Arena::add`], so indexing `nodes` with one cannot go out
//! of bounds; everything derived from the input is checked before it reaches here.

use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::bigint::BigInt;
use crate::error::PickleError;
use crate::value::Value;

/// Index of a node in the arena.
pub(crate) type Handle = usize;

/// The only callables a pickle may name, each used the way Python's own pickler uses it for
/// built-in values at protocols 0–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callable {
    Set,
    FrozenSet,
    Bytes,
    ByteArray,
    /// `_codecs.encode(text, 'latin1')`: how protocols 0–2 carry `bytes`.
    Encode,
}

impl Callable {
    /// Looks up a GLOBAL's module and name; Python 2 and Python 3 below protocol 3 write
    /// `__builtin__` where Python 3 has `builtins`.
    pub(crate) fn resolve(module: &[u8], name: &[u8]) -> Option<Callable> {
        match (module, name) {
            (b"builtins" | b"__builtin__", b"set") => Some(Callable::Set),
            (b"builtins" | b"__builtin__", b"frozenset") => Some(Callable::FrozenSet),
            (b"builtins" | b"__builtin__", b"bytes") => Some(Callable::Bytes),
            (b"builtins" | b"__builtin__", b"bytearray") => Some(Callable::ByteArray),
            (b"_codecs" | b"codecs", b"encode") => Some(Callable::Encode),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Callable::Set => "builtins.set",
            Callable::FrozenSet => "builtins.frozenset",
            Callable::Bytes => "builtins.bytes",
            Callable::ByteArray => "builtins.bytearray",
            Callable::Encode => "_codecs.encode",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Callable::Encode => "builtin_function_or_method",
            _ => "type",
        }
    }
}

/// A Python object under construction.
#[derive(Debug)]
pub(crate) enum Obj {
    None,
    Bool(bool),
    Int(i64),
    /// Always outside `i64`: the reader turns everything that fits into `Int`.
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Handle>),
    Tuple(Vec<Handle>),
    Dict(Box<Keyed>),
    Set(Box<Keyed>),
    FrozenSet(Box<Keyed>),
    Callable(Callable),
}

impl Obj {
    fn type_name(&self) -> &'static str {
        match self {
            Obj::None => "NoneType",
            Obj::Bool(_) => "bool",
            Obj::Int(_) | Obj::BigInt(_) => "int",
            Obj::Float(_) => "float",
            Obj::Str(_) => "str",
            Obj::Bytes(_) => "bytes",
            Obj::List(_) => "list",
            Obj::Tuple(_) => "tuple",
            Obj::Dict(_) => "dict",
            Obj::Set(_) => "set",
            Obj::FrozenSet(_) => "frozenset",
            Obj::Callable(callable) => callable.type_name(),
        }
    }

    /// How many children the conversion walks: dicts count keys and values separately.
    fn child(&self, index: usize) -> Option<Handle> {
        match self {
            Obj::List(items) | Obj::Tuple(items) => items.get(index).copied(),
            Obj::Dict(keyed) => keyed.entries.get(index / 2).map(|(key, value)| {
                if index.is_multiple_of(2) {
                    *key
                } else {
                    *value
                }
            }),
            Obj::Set(keyed) | Obj::FrozenSet(keyed) => {
                keyed.entries.get(index).map(|(item, _)| *item)
            }
            _ => None,
        }
    }
}

/// Entry indices sharing one hash; almost always one.
#[derive(Debug)]
enum Bucket {
    One(usize),
    Many(Vec<usize>),
}

impl Bucket {
    fn as_slice(&self) -> &[usize] {
        match self {
            Bucket::One(index) => std::slice::from_ref(index),
            Bucket::Many(indices) => indices,
        }
    }

    fn push(&mut self, index: usize) {
        match self {
            Bucket::One(first) => *self = Bucket::Many(vec![*first, index]),
            Bucket::Many(indices) => indices.push(index),
        }
    }
}

/// The entries of a dict (key, value) or set (item, item), in insertion order, indexed by key
/// hash so equal keys are found without scanning.
#[derive(Debug, Default)]
pub(crate) struct Keyed {
    entries: Vec<(Handle, Handle)>,
    index: HashMap<u64, Bucket>,
}

impl Keyed {
    /// The position of an entry whose key equals `key`, if any.
    fn find(&self, arena: &Arena, key: Handle, hash: u64) -> Result<Option<usize>, PickleError> {
        let Some(bucket) = self.index.get(&hash) else {
            return Ok(None);
        };
        for &index in bucket.as_slice() {
            if let Some((existing, _)) = self.entries.get(index)
                && arena.equal(*existing, key)?
            {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// Adds a key (with a value for dicts), or, as Python does, keeps the first equal key and
    /// replaces only its value.
    fn insert(
        &mut self,
        arena: &Arena,
        key: Handle,
        value: Option<Handle>,
        at: usize,
    ) -> Result<(), PickleError> {
        let hash = arena.key_hash(key, at)?;
        match self.find(arena, key, hash)? {
            Some(index) => {
                if let (Some(value), Some(entry)) = (value, self.entries.get_mut(index)) {
                    entry.1 = value;
                }
            }
            None => {
                let index = self.entries.len();
                self.entries.push((key, value.unwrap_or(key)));
                match self.index.get_mut(&hash) {
                    Some(bucket) => bucket.push(index),
                    None => {
                        self.index.insert(hash, Bucket::One(index));
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Node {
    obj: Obj,
    /// Container nesting below this node as known so far: exact for immutable nodes, a lower
    /// bound for lists, dicts and sets that can grow after their parents recorded it.
    depth: usize,
    /// Set for hashable (immutable, built-in) nodes only.
    hash: Option<u64>,
}

/// The limits the arena enforces, resolved from [`crate::Limits`].
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    /// Deepest nesting of the result.
    pub(crate) max_depth: usize,
    /// Deepest nesting while building: two levels more, because protocols 0–3 wrap a set's
    /// items in an argument tuple and a list before the set itself exists.
    pub(crate) build_depth: usize,
    pub(crate) max_items: usize,
    /// Total bytes of text, bytes and big integers copied out, or made by REDUCE.
    pub(crate) max_data: usize,
}

#[derive(Debug)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
    hasher: RandomState,
    budget: Budget,
    /// Handles copied by REDUCE (`set(list)` copies the list), which the input does not pay for.
    copied_items: usize,
    /// Bytes made by REDUCE (`bytes`, `_codecs.encode`), which the input does not pay for.
    made_data: usize,
    /// Steps spent comparing keys; a `Cell` so comparison can stay a shared borrow.
    compare_steps: Cell<usize>,
}

impl Arena {
    pub(crate) fn new(budget: Budget) -> Arena {
        Arena {
            nodes: Vec::new(),
            hasher: RandomState::new(),
            budget,
            copied_items: 0,
            made_data: 0,
            compare_steps: Cell::new(0),
        }
    }

    /// Stores a new object, computing its depth and (if hashable) its hash.
    pub(crate) fn add(&mut self, obj: Obj) -> Result<Handle, PickleError> {
        if self.nodes.len().saturating_add(self.copied_items) >= self.budget.max_items {
            return Err(PickleError::TooManyItems {
                limit: self.budget.max_items,
            });
        }
        let handle = self.nodes.len();
        let depth = match &obj {
            Obj::List(items) | Obj::Tuple(items) => 1 + self.max_depth_of(items.iter().copied()),
            Obj::Dict(keyed) | Obj::Set(keyed) | Obj::FrozenSet(keyed) => {
                1 + self.max_depth_of(keyed.entries.iter().flat_map(|(key, value)| [*key, *value]))
            }
            _ => 0,
        };
        self.check_depth(depth)?;
        let hash = self.hash_new(&obj, handle);
        self.nodes.push(Node { obj, depth, hash });
        Ok(handle)
    }

    pub(crate) fn obj(&self, handle: Handle) -> &Obj {
        &self.nodes[handle].obj
    }

    pub(crate) fn type_name(&self, handle: Handle) -> &'static str {
        self.nodes[handle].obj.type_name()
    }

    /// Counts handles that REDUCE copies without the input paying a byte for each.
    pub(crate) fn charge_items(&mut self, count: usize) -> Result<(), PickleError> {
        self.copied_items = self.copied_items.saturating_add(count);
        if self.nodes.len().saturating_add(self.copied_items) > self.budget.max_items {
            return Err(PickleError::TooManyItems {
                limit: self.budget.max_items,
            });
        }
        Ok(())
    }

    /// Counts bytes that REDUCE makes without the input paying for them.
    pub(crate) fn charge_data(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.made_data = self.made_data.saturating_add(bytes);
        if self.made_data > self.budget.max_data {
            return Err(PickleError::TooMuchData {
                limit: self.budget.max_data,
            });
        }
        Ok(())
    }

    fn max_depth_of(&self, handles: impl Iterator<Item = Handle>) -> usize {
        handles
            .map(|handle| self.nodes[handle].depth)
            .max()
            .unwrap_or(0)
    }

    fn check_depth(&self, depth: usize) -> Result<(), PickleError> {
        if depth > self.budget.build_depth {
            return Err(PickleError::TooDeep {
                limit: self.budget.max_depth,
            });
        }
        Ok(())
    }

    /// Records that `parent` now holds a child of depth `child_depth`.
    fn raise_depth(&mut self, parent: Handle, child_depth: usize) -> Result<(), PickleError> {
        let depth = child_depth.saturating_add(1);
        self.check_depth(depth)?;
        let node = &mut self.nodes[parent];
        node.depth = node.depth.max(depth);
        Ok(())
    }

    /// APPEND / APPENDS: extends a list.
    pub(crate) fn extend_list(
        &mut self,
        list: Handle,
        items: &[Handle],
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let found = self.type_name(list);
        let child_depth = self.max_depth_of(items.iter().copied());
        match &mut self.nodes[list].obj {
            Obj::List(existing) => existing.extend_from_slice(items),
            _ => {
                return Err(PickleError::WrongType {
                    opcode,
                    at,
                    expected: "list",
                    found,
                });
            }
        }
        if !items.is_empty() {
            self.raise_depth(list, child_depth)?;
        }
        Ok(())
    }

    /// SETITEM / SETITEMS (with a value) and ADDITEMS (without).
    pub(crate) fn insert(
        &mut self,
        target: Handle,
        key: Handle,
        value: Option<Handle>,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let found = self.type_name(target);
        // Taking the entries out lets keys be compared through `&self` while they change. A
        // dict or set is unhashable, so no comparison can need to look inside this one.
        let mut keyed = match (&mut self.nodes[target].obj, value) {
            (Obj::Dict(keyed), Some(_)) | (Obj::Set(keyed), None) => std::mem::take(&mut **keyed),
            _ => {
                let expected = if value.is_some() { "dict" } else { "set" };
                return Err(PickleError::WrongType {
                    opcode,
                    at,
                    expected,
                    found,
                });
            }
        };
        let inserted = keyed.insert(self, key, value, at);
        if let Obj::Dict(slot) | Obj::Set(slot) = &mut self.nodes[target].obj {
            **slot = keyed;
        }
        inserted?;
        let child_depth = self.max_depth_of([key].into_iter().chain(value));
        self.raise_depth(target, child_depth)
    }

    /// Builds the entries of a new dict, set or frozenset from (key, value) pairs; sets pass
    /// each item as both.
    pub(crate) fn build_keyed(
        &self,
        pairs: impl IntoIterator<Item = (Handle, Handle)>,
        is_set: bool,
        at: usize,
    ) -> Result<Keyed, PickleError> {
        let mut keyed = Keyed::default();
        for (key, value) in pairs {
            keyed.insert(self, key, if is_set { None } else { Some(value) }, at)?;
        }
        Ok(keyed)
    }

    /// The items of a list, tuple, set or frozenset, as `set(iterable)` would see them.
    pub(crate) fn iterable_items(&self, handle: Handle) -> Option<Vec<Handle>> {
        match self.obj(handle) {
            Obj::List(items) | Obj::Tuple(items) => Some(items.clone()),
            Obj::Set(keyed) | Obj::FrozenSet(keyed) => {
                Some(keyed.entries.iter().map(|(item, _)| *item).collect())
            }
            _ => None,
        }
    }

    /// The hash of a dict key or set item, or an error naming what makes it unhashable.
    fn key_hash(&self, handle: Handle, at: usize) -> Result<u64, PickleError> {
        if let Some(hash) = self.nodes[handle].hash {
            return Ok(hash);
        }
        // Walk down through tuples to the first unhashable part, to name its type. A tuple is
        // unhashable only through a child made before it, so this loop always ends.
        let mut culprit = handle;
        while let Obj::Tuple(items) = &self.nodes[culprit].obj {
            match items.iter().find(|item| self.nodes[**item].hash.is_none()) {
                Some(item) => culprit = *item,
                None => break,
            }
        }
        Err(PickleError::Unhashable {
            type_name: self.type_name(culprit),
            at,
        })
    }

    fn hash_new(&self, obj: &Obj, handle: Handle) -> Option<u64> {
        let mut hasher = self.hasher.build_hasher();
        match obj {
            Obj::None => 0_u8.hash(&mut hasher),
            Obj::Bool(value) => hash_int(&mut hasher, i64::from(*value)),
            Obj::Int(value) => hash_int(&mut hasher, *value),
            Obj::BigInt(value) => hash_big(&mut hasher, value),
            Obj::Float(value) => {
                if value.is_nan() {
                    // NaN equals nothing, not even another NaN, so only identity can match.
                    (1_u8, handle).hash(&mut hasher);
                } else if let Some(int) = integral_i64(*value) {
                    hash_int(&mut hasher, int);
                } else if let Some(big) = BigInt::from_integral_f64(*value) {
                    hash_big(&mut hasher, &big);
                } else {
                    (2_u8, value.to_bits()).hash(&mut hasher);
                }
            }
            Obj::Str(text) => (3_u8, text).hash(&mut hasher),
            Obj::Bytes(bytes) => (4_u8, bytes).hash(&mut hasher),
            Obj::Tuple(items) => {
                (5_u8, items.len()).hash(&mut hasher);
                for item in items {
                    self.nodes[*item].hash?.hash(&mut hasher);
                }
            }
            Obj::FrozenSet(keyed) => {
                // Order-independent: the sorted item hashes.
                let mut hashes = keyed
                    .entries
                    .iter()
                    .map(|(item, _)| self.nodes[*item].hash)
                    .collect::<Option<Vec<u64>>>()?;
                hashes.sort_unstable();
                (6_u8, hashes).hash(&mut hasher);
            }
            Obj::List(_) | Obj::Dict(_) | Obj::Set(_) | Obj::Callable(_) => return None,
        }
        Some(hasher.finish())
    }

    /// Python equality between two hashable nodes, with the work it takes counted.
    fn equal(&self, a: Handle, b: Handle) -> Result<bool, PickleError> {
        if a == b {
            return Ok(true);
        }
        let steps = self.compare_steps.get().saturating_add(1);
        if steps > self.budget.max_items {
            return Err(PickleError::TooMuchComparing {
                limit: self.budget.max_items,
            });
        }
        self.compare_steps.set(steps);
        let (left, right) = (&self.nodes[a], &self.nodes[b]);
        if let (Some(x), Some(y)) = (left.hash, right.hash)
            && x != y
        {
            return Ok(false);
        }
        // Recursion here follows tuples and frozensets, which are immutable and so have exact
        // depths within the build limit.
        Ok(match (&left.obj, &right.obj) {
            (Obj::None, Obj::None) => true,
            (Obj::Str(x), Obj::Str(y)) => x == y,
            (Obj::Bytes(x), Obj::Bytes(y)) => x == y,
            (Obj::Tuple(x), Obj::Tuple(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y) {
                    if !self.equal(*p, *q)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Obj::FrozenSet(x), Obj::FrozenSet(y)) => {
                if x.entries.len() != y.entries.len() {
                    return Ok(false);
                }
                for (item, _) in &x.entries {
                    let Some(hash) = self.nodes[*item].hash else {
                        return Ok(false);
                    };
                    if y.find(self, *item, hash)?.is_none() {
                        return Ok(false);
                    }
                }
                true
            }
            (x, y) => match (Number::of(x), Number::of(y)) {
                (Some(p), Some(q)) => p.equals(&q),
                _ => false,
            },
        })
    }

    /// Copies the object graph under `root` into a `Value` tree, iteratively, refusing cycles,
    /// nesting past the limit, and expansion past the item and data budgets.
    pub(crate) fn to_value(&self, root: Handle) -> Result<Value, PickleError> {
        let mut copy = Copier {
            arena: self,
            items: 0,
            data: 0,
            on_path: vec![false; self.nodes.len()],
        };
        let mut frames: Vec<Frame> = Vec::new();
        match copy.enter(root, 0)? {
            Entered::Leaf(value) => return Ok(value),
            Entered::Container(frame) => frames.push(frame),
        }
        loop {
            let depth = frames.len();
            let Some(top) = frames.last_mut() else {
                // Unreachable: the loop returns when the last frame closes.
                return Err(PickleError::Recursive);
            };
            if let Some(child) = self.nodes[top.handle].obj.child(top.next) {
                top.next += 1;
                match copy.enter(child, depth)? {
                    Entered::Leaf(value) => top.out.push(value),
                    Entered::Container(frame) => frames.push(frame),
                }
                continue;
            }
            let Some(done) = frames.pop() else {
                return Err(PickleError::Recursive);
            };
            copy.on_path[done.handle] = false;
            let obj = &self.nodes[done.handle].obj;
            let value = done.finish(obj);
            match frames.last_mut() {
                Some(parent) => parent.out.push(value),
                None => return Ok(value),
            }
        }
    }
}

/// A number as Python compares numbers: bools and ints alike, floats by value.
enum Number<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
}

impl<'a> Number<'a> {
    fn of(obj: &'a Obj) -> Option<Number<'a>> {
        match obj {
            Obj::Bool(value) => Some(Number::Int(i64::from(*value))),
            Obj::Int(value) => Some(Number::Int(*value)),
            Obj::BigInt(value) => Some(Number::Big(value)),
            Obj::Float(value) => Some(Number::Float(*value)),
            _ => None,
        }
    }

    fn equals(&self, other: &Number<'_>) -> bool {
        match (self, other) {
            (Number::Int(x), Number::Int(y)) => x == y,
            (Number::Big(x), Number::Big(y)) => x == y,
            (Number::Float(x), Number::Float(y)) => x == y,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                integral_i64(*f) == Some(*i)
            }
            (Number::Big(b), Number::Float(f)) | (Number::Float(f), Number::Big(b)) => {
                BigInt::from_integral_f64(*f).as_ref() == Some(*b)
            }
            // A BigInt never fits i64, so it never equals an Int.
            (Number::Int(_), Number::Big(_)) | (Number::Big(_), Number::Int(_)) => false,
        }
    }
}

/// The float as an `i64` if it is integral and in range (so `-0.0` gives 0).
fn integral_i64(value: f64) -> Option<i64> {
    // 2^63 is exactly representable; the range check makes the cast exact.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value)).then_some(value as i64)
}

fn hash_int(hasher: &mut impl Hasher, value: i64) {
    (7_u8, value).hash(hasher);
}

fn hash_big(hasher: &mut impl Hasher, value: &BigInt) {
    (8_u8, value.signed_bytes_le()).hash(hasher);
}

/// State of one `to_value` copy.
struct Copier<'a> {
    arena: &'a Arena,
    items: usize,
    data: usize,
    /// Containers currently being copied: meeting one again means a cycle.
    on_path: Vec<bool>,
}

enum Entered {
    Leaf(Value),
    Container(Frame),
}

/// A container being copied: its handle, the next child to visit, and the children so far.
struct Frame {
    handle: Handle,
    next: usize,
    out: Vec<Value>,
}

impl Frame {
    fn finish(self, obj: &Obj) -> Value {
        match obj {
            Obj::Tuple(_) => Value::Tuple(self.out),
            Obj::Set(_) => Value::Set(self.out),
            Obj::FrozenSet(_) => Value::FrozenSet(self.out),
            Obj::Dict(_) => {
                let mut pairs = Vec::with_capacity(self.out.len() / 2);
                let mut values = self.out.into_iter();
                while let (Some(key), Some(value)) = (values.next(), values.next()) {
                    pairs.push((key, value));
                }
                Value::Dict(pairs)
            }
            _ => Value::List(self.out),
        }
    }
}

impl Copier<'_> {
    /// Starts copying `handle` found at nesting `depth` (the number of open containers).
    fn enter(&mut self, handle: Handle, depth: usize) -> Result<Entered, PickleError> {
        let budget = &self.arena.budget;
        self.items += 1;
        if self.items > budget.max_items {
            return Err(PickleError::TooManyItems {
                limit: budget.max_items,
            });
        }
        let obj = self.arena.obj(handle);
        let leaf = match obj {
            Obj::None => Value::None,
            Obj::Bool(value) => Value::Bool(*value),
            Obj::Int(value) => Value::Int(*value),
            Obj::Float(value) => Value::Float(*value),
            Obj::BigInt(value) => {
                self.charge(value.signed_bytes_le().len())?;
                Value::BigInt(value.clone())
            }
            Obj::Str(text) => {
                self.charge(text.len())?;
                Value::Str(text.clone())
            }
            Obj::Bytes(bytes) => {
                self.charge(bytes.len())?;
                Value::Bytes(bytes.clone())
            }
            Obj::Callable(callable) => {
                return Err(PickleError::CallableValue {
                    name: callable.name(),
                });
            }
            Obj::List(_) | Obj::Tuple(_) | Obj::Dict(_) | Obj::Set(_) | Obj::FrozenSet(_) => {
                if self.on_path[handle] {
                    return Err(PickleError::Recursive);
                }
                if depth >= budget.max_depth {
                    return Err(PickleError::TooDeep {
                        limit: budget.max_depth,
                    });
                }
                self.on_path[handle] = true;
                return Ok(Entered::Container(Frame {
                    handle,
                    next: 0,
                    out: Vec::new(),
                }));
            }
        };
        Ok(Entered::Leaf(leaf))
    }

    fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.data = self.data.saturating_add(bytes);
        if self.data > self.arena.budget.max_data {
            return Err(PickleError::TooMuchData {
                limit: self.arena.budget.max_data,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arena() -> Arena {
        Arena::new(Budget {
            max_depth: 10,
            build_depth: 12,
            max_items: 1000,
            max_data: 1000,
        })
    }

    #[test]
    fn equal_numbers_collapse_as_in_python() {
        let mut arena = arena();
        let one = arena.add(Obj::Int(1)).unwrap();
        let one_float = arena.add(Obj::Float(1.0)).unwrap();
        let truth = arena.add(Obj::Bool(true)).unwrap();
        let zero = arena.add(Obj::Int(0)).unwrap();
        let minus_zero = arena.add(Obj::Float(-0.0)).unwrap();
        let keyed = arena
            .build_keyed(
                [one, one_float, truth, zero, minus_zero].map(|h| (h, h)),
                true,
                0,
            )
            .unwrap();
        assert_eq!(keyed.entries, vec![(one, one), (zero, zero)]);
    }

    #[test]
    fn big_floats_equal_big_ints() {
        let mut arena = arena();
        let big = arena
            .add(Obj::BigInt(
                BigInt::parse_decimal("1180591620717411303424").unwrap(),
            ))
            .unwrap();
        let float = arena.add(Obj::Float(2f64.powi(70))).unwrap();
        assert!(arena.equal(big, float).unwrap());
        let other = arena.add(Obj::Float(2f64.powi(71))).unwrap();
        assert!(!arena.equal(big, other).unwrap());
    }

    #[test]
    fn nan_keys_stay_distinct_unless_shared() {
        let mut arena = arena();
        let a = arena.add(Obj::Float(f64::NAN)).unwrap();
        let b = arena.add(Obj::Float(f64::NAN)).unwrap();
        let keyed = arena
            .build_keyed([(a, a), (b, b), (a, a)], true, 0)
            .unwrap();
        assert_eq!(keyed.entries.len(), 2);
    }

    #[test]
    fn tuples_and_frozensets_compare_by_content() {
        let mut arena = arena();
        let x = arena.add(Obj::Str("x".into())).unwrap();
        let y = arena.add(Obj::Str("y".into())).unwrap();
        let xy = arena.build_keyed([(x, x), (y, y)], true, 0).unwrap();
        let yx = arena.build_keyed([(y, y), (x, x)], true, 0).unwrap();
        let first = arena.add(Obj::FrozenSet(Box::new(xy))).unwrap();
        let second = arena.add(Obj::FrozenSet(Box::new(yx))).unwrap();
        let t1 = arena.add(Obj::Tuple(vec![first, x])).unwrap();
        let t2 = arena.add(Obj::Tuple(vec![second, x])).unwrap();
        assert!(arena.equal(t1, t2).unwrap());
        let t3 = arena.add(Obj::Tuple(vec![second, y])).unwrap();
        assert!(!arena.equal(t1, t3).unwrap());
    }

    #[test]
    fn unhashable_parts_are_named() {
        let mut arena = arena();
        let list = arena.add(Obj::List(vec![])).unwrap();
        let tuple = arena.add(Obj::Tuple(vec![list])).unwrap();
        let outer = arena.add(Obj::Tuple(vec![tuple])).unwrap();
        assert_eq!(
            arena.key_hash(outer, 7),
            Err(PickleError::Unhashable {
                type_name: "list",
                at: 7
            })
        );
    }
}
