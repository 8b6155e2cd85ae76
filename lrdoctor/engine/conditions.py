"""A small, safe expression language for rule conditions and confidences.

Rule files are data, possibly written by users, so expressions are never handed to `eval`.
They are parsed with `ast` and checked against a whitelist: numbers, `True`/`False`, names,
`+ - * / %`, unary `- +`, comparisons (chains included), `and`, `or`, `not` and parentheses.
Anything else (attribute access, calls, subscripts, strings, `**`, lambdas, comprehensions,
...) is refused with the construct named. The checked tree is compiled once into closures.

Missing data: a name whose value is `None` (not measurable) or NaN makes a comparison
*unknown*, and unknown propagates through arithmetic and `not`. `and`/`or` follow Kleene's
three-valued logic (`False and unknown` is False, `True or unknown` is True), and a condition
holds only when it is definitely True. So a rule whose signal is absent simply does not fire,
even when its condition is written with `not`.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Value = bool | int | float | None
Namespace = Mapping[str, Value]
_Evaluator = Callable[[Namespace], Value]

MAX_EXPRESSION_LENGTH = 2000
MAX_NESTING = 64


class ExpressionError(ValueError):
    """An expression is not valid in the rule language; the message names the construct."""


@dataclass(frozen=True)
class Expression:
    """A checked, compiled expression; `names` are the feature and option names it reads."""

    text: str
    names: frozenset[str]
    _evaluate: _Evaluator

    def evaluate(self, namespace: Namespace) -> Value:
        """The value of the expression; `None` means unknown (a needed value was missing)."""
        return self._evaluate(namespace)

    def holds(self, namespace: Namespace) -> bool:
        """Whether the expression is definitely true for these values."""
        return _truth(self._evaluate(namespace)) is True


def compile_expression(text: str) -> Expression:
    """Parse and check `text`, refusing every construct outside the whitelist."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected the expression as a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long (limit {MAX_EXPRESSION_LENGTH})"
        )
    tree = _parse(text)
    names: set[str] = set()
    evaluator = _Compiler(text, names).compile(tree.body, depth=0)
    return Expression(text=text, names=frozenset(names), _evaluate=evaluator)


def _parse(text: str) -> ast.Expression:
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as error:
        explanation = _explain_non_expression(text)
        if explanation:
            raise ExpressionError(explanation) from None
        detail = getattr(error, "msg", None) or str(error)
        where = ""
        if isinstance(error, SyntaxError) and error.offset:
            where = f" at column {error.offset}"
        raise ExpressionError(f"`{text}` is not a valid expression{where}: {detail}") from None


def _explain_non_expression(text: str) -> str | None:
    """Say what `text` is when it parses as statements (`import os`, `*a`), not 'syntax error'."""
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError):
        return None
    if len(module.body) > 1:
        return "several statements are not allowed: an expression is a single formula"
    if not module.body:
        return None
    statement = module.body[0]
    if isinstance(statement, ast.Expr):
        try:
            _Compiler(text, set()).compile(statement.value, depth=0)
        except ExpressionError as error:
            return str(error)
        return None
    kind = type(statement).__name__
    construct = _STATEMENT_NAMES.get(kind, f"a statement ({kind})")
    return (
        f"{construct} is not allowed: an expression is a single formula such as "
        "`growth > max_growth`"
    )


_STATEMENT_NAMES = {
    "Import": "an import statement",
    "ImportFrom": "an import statement",
    "Assign": "an assignment",
    "AugAssign": "an assignment",
    "AnnAssign": "an assignment",
    "FunctionDef": "a function definition",
    "AsyncFunctionDef": "a function definition",
    "ClassDef": "a class definition",
    "Delete": "a del statement",
    "Global": "a global statement",
}

_CONSTRUCT_NAMES = {
    "Attribute": "attribute access",
    "Call": "a function call",
    "Subscript": "subscripting",
    "Slice": "a slice",
    "Lambda": "a lambda",
    "ListComp": "a list comprehension",
    "SetComp": "a set comprehension",
    "DictComp": "a dict comprehension",
    "GeneratorExp": "a generator expression",
    "JoinedStr": "an f-string",
    "FormattedValue": "an f-string",
    "NamedExpr": "an assignment expression (:=)",
    "Starred": "unpacking (*)",
    "IfExp": "a conditional expression (if/else)",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "List": "a list",
    "Tuple": "a tuple",
    "Set": "a set",
    "Dict": "a dict",
}

_OPERATOR_NAMES = {
    "Pow": "the power operator (**)",
    "FloorDiv": "the // operator",
    "MatMult": "the @ operator",
    "LShift": "the << operator",
    "RShift": "the >> operator",
    "BitOr": "the | operator",
    "BitAnd": "the & operator",
    "BitXor": "the ^ operator",
    "Invert": "the ~ operator",
    "Is": "the `is` operator",
    "IsNot": "the `is not` operator",
    "In": "the `in` operator",
    "NotIn": "the `not in` operator",
}


_CONSTANT_NAMES = {
    str: "a string",
    bytes: "a bytes literal",
    complex: "a complex number",
    type(...): "an ellipsis (...)",
}


def _truth(value: Value) -> bool | None:
    """Truth of a value in three-valued logic: None and NaN are unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def _divide(left: Value, right: Value) -> Value:
    return None if right == 0 else left / right


def _modulo(left: Value, right: Value) -> Value:
    return None if right == 0 else left % right


_ARITHMETIC: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: _divide,
    ast.Mod: _modulo,
}

_COMPARISONS: dict[type[ast.cmpop], Callable[[Value, Value], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class _Compiler:
    """Walks a parsed expression, refusing what is not whitelisted, building closures."""

    def __init__(self, text: str, names: set[str]):
        self.text = text
        self.names = names

    def refuse(self, node: ast.AST, construct: str, hint: str = "") -> ExpressionError:
        segment = ast.get_source_segment(self.text, node) or self.text
        column = getattr(node, "col_offset", 0) + 1
        return ExpressionError(f"{construct} is not allowed: `{segment}` (column {column}){hint}")

    def compile(self, node: ast.AST, depth: int) -> _Evaluator:
        if depth > MAX_NESTING:
            raise self.refuse(node, f"nesting deeper than {MAX_NESTING} levels")
        method = getattr(self, f"_compile_{type(node).__name__}", None)
        if method is None:
            kind = type(node).__name__
            raise self.refuse(node, _CONSTRUCT_NAMES.get(kind, f"`{kind}`"))
        return method(node, depth + 1)

    def _compile_Constant(self, node: ast.Constant, depth: int) -> _Evaluator:
        value = node.value
        if value is None:
            raise self.refuse(
                node,
                "None",
                "; a missing feature already makes any comparison with it unknown, "
                "so the rule does not fire",
            )
        if type(value) not in (bool, int, float):
            kind = _CONSTANT_NAMES.get(type(value), f"a {type(value).__name__} constant")
            raise self.refuse(node, kind, "; only numbers and True/False are allowed")
        return lambda namespace: value

    def _compile_Name(self, node: ast.Name, depth: int) -> _Evaluator:
        name = node.id
        if name.startswith("_"):
            raise self.refuse(
                node, f"the name `{name}`", " (names starting with an underscore are reserved)"
            )
        self.names.add(name)
        return lambda namespace: namespace.get(name)

    def _compile_UnaryOp(self, node: ast.UnaryOp, depth: int) -> _Evaluator:
        operand = self.compile(node.operand, depth)
        if isinstance(node.op, ast.Not):

            def negate(namespace: Namespace) -> Value:
                truth = _truth(operand(namespace))
                return None if truth is None else not truth

            return negate
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            sign = -1 if isinstance(node.op, ast.USub) else 1

            def signed(namespace: Namespace) -> Value:
                value = operand(namespace)
                return None if value is None else sign * value

            return signed
        raise self.refuse(node, _OPERATOR_NAMES.get(type(node.op).__name__, "this operator"))

    def _compile_BinOp(self, node: ast.BinOp, depth: int) -> _Evaluator:
        apply = _ARITHMETIC.get(type(node.op))
        if apply is None:
            kind = type(node.op).__name__
            raise self.refuse(node, _OPERATOR_NAMES.get(kind, f"the operator `{kind}`"))
        left = self.compile(node.left, depth)
        right = self.compile(node.right, depth)

        def arithmetic(namespace: Namespace) -> Value:
            left_value = left(namespace)
            right_value = right(namespace)
            if left_value is None or right_value is None:
                return None
            try:
                return apply(left_value, right_value)
            except OverflowError:
                return None

        return arithmetic

    def _compile_BoolOp(self, node: ast.BoolOp, depth: int) -> _Evaluator:
        operands = [self.compile(value, depth) for value in node.values]
        deciding = isinstance(node.op, ast.Or)

        def logic(namespace: Namespace) -> Value:
            result: bool | None = not deciding
            for operand in operands:
                truth = _truth(operand(namespace))
                if truth is deciding:
                    return deciding
                if truth is None:
                    result = None
            return result

        return logic

    def _compile_Compare(self, node: ast.Compare, depth: int) -> _Evaluator:
        comparisons = []
        for compare_op in node.ops:
            apply = _COMPARISONS.get(type(compare_op))
            if apply is None:
                kind = type(compare_op).__name__
                raise self.refuse(node, _OPERATOR_NAMES.get(kind, f"the comparison `{kind}`"))
            comparisons.append(apply)
        operands = [self.compile(node.left, depth)] + [
            self.compile(comparator, depth) for comparator in node.comparators
        ]

        def compare(namespace: Namespace) -> Value:
            result: bool | None = True
            left_value = operands[0](namespace)
            for apply, right in zip(comparisons, operands[1:], strict=True):
                right_value = right(namespace)
                if _truth(left_value) is None or _truth(right_value) is None:
                    result = None
                elif not apply(left_value, right_value):
                    return False
                left_value = right_value
            return result

        return compare
