"""The computational graph of a built PyTorch network, by tracing it (``torch.fx``).

A search space given only as ``build(architecture, width) -> nn.Module`` gets its graph, kernel
counts, deduplication key and costs from the built network. :func:`trace_graph` records the
network's program with a ``torch.fx`` tracer and turns it into the bipartite memory/kernel graph of
:mod:`cbred_ray.graphs.computational`: node attribute ``partition`` ("memory"/"kernel") and ``kind``
("feature"/"parameter" for memory nodes, :func:`kernel_type` for kernels), read edges memory ->
kernel and write edges kernel -> memory, every array written by at most one kernel.

**Tracing.** The default tracer's leaf modules (``torch.nn``'s own modules, ``nn.Sequential``
traced through) become kernels, and so do the functions and tensor methods called between them.
The tracer runs the network on a zero input of ``input_shape`` as it records, in eval mode and
without gradients (the inference program; train/eval flags and buffers are restored), so every
recorded value has a concrete value: this is ``symbolic_trace`` and ``ShapeProp`` in one pass,
needed because networks branch on shapes (NB101's cell truncates an input only when its channels
differ, :class:`cbred_ray.spaces.nb101.network.NB101Cell`). Python control flow on tensors is
decided by that zero input; shape queries (``.shape``, ``.size()``, ``.dim()``, ``len``) give
plain numbers and add nothing. A module on the ``meta`` device traces without computing anything.

**What is a kernel.** Node by node of the recorded program:

* the network input is a feature array (memory node named after ``forward``'s argument);
* parameters (:meth:`~torch.nn.Module.parameters`: weights, BatchNorm scale and shift, never
  buffers such as running statistics) are parameter arrays named by their qualified name, read by
  the kernel of the module that owns them or by the function that uses them; a shared module or
  parameter is one array read by several kernels;
* aliasing is not a kernel: views, reshapes, flattening, slicing and indexing (``getitem``),
  ``split``/``chunk``/``unbind``, ``contiguous``, ``clone``, ``detach``, ``to`` (:data:`ALIASES`; as
  the cell graphs leave out NB101's truncations) pass their input's array through;
* constants are not arrays: tensors made by ``zeros``/``zeros_like``/``ones``/``full``/``arange``...
  (:data:`CONSTANTS`), buffers, tensor attributes, ``x * 0`` (NB201's official ``none`` edge); and
  every operation that reads no input-dependent array is folded into a constant (so the whole
  branch NB201's :class:`~cbred_ray.spaces.cell.network.InferCell` runs on ``torch.zeros_like`` for an
  edge out of a node nothing feeds disappears, as the canonical form removes it);
* a sum is one ``add`` kernel reading every input-dependent term and parameter it adds: constant
  and scalar terms are dropped (``sum(tensors)`` starts at ``0 + t0``; an ``add`` left with one
  array passes it through), and a chain of ``+`` whose intermediate sums are read only by the
  next ``+`` is one ``add`` (the closed forms count one ``add`` per node with several inputs);
* every other operation that reads an input-dependent array is one kernel writing one feature
  array ``<kernel>.out`` (``<kernel>.out<i>`` per element when it returns a tuple); in-place
  operations (``relu_``, ``+=``, ``nn.ReLU(inplace=True)``) are kernels writing a new array (one
  array per value, as in SSA form); reading the same array twice (``x * x``) is one read edge;
  ``Dropout`` is a kernel ``dropout`` (in the program, though in eval mode it passes values on).

Dead code is eliminated: only the arrays and kernels the outputs depend on (and the input) stay; a
network whose output does not depend on its input (an NB201 cell without an input-output path, and
any network around it) is its input array alone.
Names: kernel nodes take the ``torch.fx`` node names (``layers_0_1`` for module ``layers.0.1``).

**Kernel types** (:func:`kernel_type`): the lower-case name of the module class or function, with
underscores and a ``1d``/``2d``/``3d`` ending removed (``BatchNorm2d``, ``F.batch_norm`` ->
``batchnorm``; ``ReLU``, ``F.relu``, ``relu_`` -> ``relu``; ``Hardswish`` -> ``hardswish``;
``AvgPool2d`` -> ``avgpool``; ``Identity`` -> ``identity``; ``Linear`` -> ``linear``), operators by
their meaning (``+`` -> ``add``, ``*`` -> ``mul``, ``/`` -> ``div``, ``torch.cat`` -> ``concat``),
and the settings that define shapes appended where they matter:

* convolutions ``conv{kh}x{kw}`` (``conv3x3``, ``conv1x1``, ``conv1x7``; ``conv3`` in 1-D), prefixed
  ``dw`` when depthwise (groups == input channels > 1) and ``g`` when otherwise grouped, and
  suffixed ``_s{stride}`` only when a stride exceeds 1 and ``_d{dilation}`` only when a dilation
  does (``dwconv3x3_s2``; ``_s1x2`` for unequal strides): stride-1 convolutions are named exactly as
  the closed forms name them; transposed convolutions ``convtranspose{k}x{k}``;
* pooling ``avgpool``/``maxpool`` with the same stride suffix (``avgpool_s2``); adaptive pooling to
  size 1 and a ``mean`` over every spatial dimension are ``globalpool`` (``globalmaxpool`` for
  max), other adaptive pooling ``adaptiveavgpool``/``adaptivemaxpool``.

**Deduplication** (:func:`graph_hash`): the Weisfeiler-Lehman hash of the graph, nodes labelled
``partition/kind``, :data:`HASH_ITERATIONS` rounds over predecessors and successors (networkx >= 3.5
aggregates both). Graphs equal up to renaming hash equal. On NB201, the cells traced as given (dead
edges and all) fall into exactly the closed-form canonical classes, 8,765: the tracer removes dead
edges (dead code, and constant folding of what a node nothing feeds computes), and the hash does not
see which of two swappable nodes is which (``benchmarks/traced_agreement.py``).

**Costs** (:func:`network_summary`): parameters and MACs by :func:`cbred_ray.stats.cost.params` and
:func:`~cbred_ray.stats.cost.macs`, the project's one definition of both.
"""
from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import fx, nn

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import FEATURE, KERNEL, MEMORY, PARAMETER, nodes_of
from cbred_ray.graphs.features import op_counts
from cbred_ray.stats.cost import macs, params
from cbred_ray.stats.numerics import restored_state

__all__ = ["ALIASES", "CONSTANTS", "HASH_ITERATIONS", "TracedNetwork", "graph_hash", "kernel_counts",
           "kernel_type", "kernel_types_of", "network_summary", "trace_graph"]

HASH_ITERATIONS = 10
"""Weisfeiler-Lehman rounds of :func:`graph_hash`: twice the fewest (5) whose hashes of the 15,625 NB201 cells,
traced as given, separate every pair of cells the canonical form separates (at 4 rounds 16 hash classes
each hold two canonical classes; ``benchmarks/traced_agreement.py``). A round costs one pass over the edges."""

ALIASES: frozenset[str] = frozenset({
    "view", "viewas", "reshape", "reshapeas", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
    "transpose", "t", "movedim", "swapaxes", "swapdims", "expand", "expandas", "narrow", "select", "getitem",
    "getattr", "split", "splitwithsizes", "tensorsplit", "chunk", "unbind", "contiguous", "clone", "detach", "to",
    "type", "float", "double", "half", "bfloat16",
})
"""Normalised names (:func:`kernel_type` before settings) of the operations that only alias their input."""

CONSTANTS: frozenset[str] = frozenset({
    "zeros", "zeroslike", "ones", "oneslike", "empty", "emptylike", "full", "fulllike", "newzeros", "newones",
    "newfull", "newempty", "newtensor", "arange", "eye", "rand", "randlike", "randn", "randnlike", "tensor",
    "scalartensor",
})
"""Normalised names of the tensor factories: their results are constants, whatever they are given."""

_RENAMED = {
    "iadd": "add", "radd": "add", "imul": "mul", "rmul": "mul", "multiply": "mul", "isub": "sub", "rsub": "sub",
    "subtract": "sub", "truediv": "div", "itruediv": "div", "rtruediv": "div", "divide": "div", "cat": "concat",
    "concatenate": "concat", "syncbatchnorm": "batchnorm", "lazybatchnorm": "batchnorm",
}


class _Ref(str):
    """A reference to a memory node of the graph being built (a plain ``str`` argument is not one)."""


_CONST, _META = object(), object()  # the value of a constant, of something that is not a tensor

# Positions of (stride, dilation, groups) in the functional convolutions' arguments.
_CONV_ARGS = {"conv": (3, 5, 6), "convtranspose": (3, 7, 6)}


# -- kernel types -------------------------------------------------------------------------------
def _base_name(op: object) -> str:
    """Lower-case name of a module (its class), function or method name; no underscores or 1d/2d/3d."""
    if isinstance(op, nn.Module):
        raw = type(op).__name__
    elif isinstance(op, str):
        raw = op
    else:
        raw = getattr(op, "__name__", type(op).__name__)
    name = re.sub(r"[123]d$", "", raw.lower().replace("_", ""))
    return _RENAMED.get(name, name)


def _arg(args: Sequence[Any], kwargs: dict[str, Any], position: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else default


def _dims(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list, torch.Size)) else (int(value),)


def _suffix(letter: str, values: Any) -> str:
    """``_{letter}{v}`` (``_{letter}{v1}x{v2}`` when unequal) when some value exceeds 1, else nothing."""
    values = _dims(values)
    if max(values) <= 1:
        return ""
    return f"_{letter}{values[0]}" if len(set(values)) == 1 else f"_{letter}{'x'.join(map(str, values))}"


def _conv_type(name: str, op: object, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    if isinstance(op, nn.Module):
        kernel, stride, dilation, groups, c_in = op.kernel_size, op.stride, op.dilation, op.groups, op.in_channels
    else:
        stride_at, dilation_at, groups_at = _CONV_ARGS[name]
        kernel = tuple(_arg(args, kwargs, 1, "weight").shape[2:])
        stride, dilation = _arg(args, kwargs, stride_at, "stride", 1), _arg(args, kwargs, dilation_at, "dilation", 1)
        groups, c_in = _arg(args, kwargs, groups_at, "groups", 1), _arg(args, kwargs, 0, "input").shape[1]
    prefix = "" if groups == 1 else "dw" if groups == c_in else "g"
    size = "x".join(str(k) for k in _dims(kernel))
    return f"{prefix}{name}{size}{_suffix('s', stride)}{_suffix('d', dilation)}"


def _pool_type(name: str, op: object, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    if isinstance(op, nn.Module):
        stride = op.stride
    else:
        stride = _arg(args, kwargs, 2, "stride") or _arg(args, kwargs, 1, "kernel_size")
    return name + _suffix("s", stride)


def _adaptive_type(name: str, op: object, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    size = op.output_size if isinstance(op, nn.Module) else _arg(args, kwargs, 1, "output_size")
    sizes = size if isinstance(size, (tuple, list)) else (size,)
    if all(s == 1 for s in sizes):
        return "globalpool" if name == "adaptiveavgpool" else "globalmaxpool"
    return name


def _is_spatial_mean(args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    """A mean over every dimension after the channels of a batch of feature maps (global pooling)."""
    tensor, dims = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "dim")
    if not isinstance(tensor, torch.Tensor) or tensor.dim() < 3 or dims is None:
        return False
    return {d % tensor.dim() for d in _dims(dims)} == set(range(2, tensor.dim()))


def kernel_type(op: object, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> str:
    """The kernel type of a module, function or tensor-method name, as the module docstring defines it.

    ``op``: an ``nn.Module`` instance (its settings are read from it), a function (``F.conv2d``,
    ``torch.relu``, ``operator.add``) or a method name (``"relu_"``); ``args``/``kwargs``: the concrete
    arguments of a function or method call (needed only where a setting is an argument: a functional
    convolution's weight, stride and groups, a pooling's stride, a ``mean``'s dimensions).
    Operations the tracer treats as aliases or constants (:data:`ALIASES`, :data:`CONSTANTS`) get their
    name too (``"view"``, ``"zeroslike"``), but never become kernels.
    """
    kwargs = kwargs or {}
    name = _base_name(op)
    if name in _CONV_ARGS:
        return _conv_type(name, op, args, kwargs)
    if name in ("avgpool", "maxpool"):
        return _pool_type(name, op, args, kwargs)
    if name in ("adaptiveavgpool", "adaptivemaxpool"):
        return _adaptive_type(name, op, args, kwargs)
    if name == "mean" and _is_spatial_mean(args, kwargs):
        return "globalpool"
    return name


# -- the tracer ---------------------------------------------------------------------------------
def _value(a: Any) -> Any:
    return a.node.meta["value"] if isinstance(a, fx.Proxy) else a


class _ConcreteProxy(fx.Proxy):
    """A proxy whose node carries its concrete value: shape queries answer with numbers."""

    @property
    def shape(self) -> torch.Size:
        return self.node.meta["value"].shape

    @property
    def ndim(self) -> int:
        return self.node.meta["value"].dim()

    @property
    def dtype(self) -> torch.dtype:
        return self.node.meta["value"].dtype

    @property
    def device(self) -> torch.device:
        return self.node.meta["value"].device

    def size(self, dim: int | None = None) -> Any:
        value = self.node.meta["value"]
        return value.size() if dim is None else value.size(dim)

    def dim(self) -> int:
        return self.node.meta["value"].dim()

    def numel(self) -> int:
        return self.node.meta["value"].numel()

    def __len__(self) -> int:
        return len(self.node.meta["value"])


class _ConcreteTracer(fx.Tracer):
    """``fx.Tracer`` that computes every recorded node's value (``node.meta["value"]``) as it goes."""

    def __init__(self, example: torch.Tensor) -> None:
        super().__init__()
        self._example = example
        self._placeholders = 0
        self._evaluating = False
        self._forward: Callable[..., Any] | None = None

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ConcreteProxy(node, self)

    def to_bool(self, obj: fx.Proxy) -> bool:
        return bool(obj.node.meta["value"])

    def iter(self, obj: fx.Proxy) -> Iterator:
        return iter([obj[i] for i in range(len(obj.node.meta["value"]))])

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self._evaluating:  # a leaf module's own submodules, while computing its value
            return forward(*args, **kwargs)
        self._forward = forward
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        if self._evaluating:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def create_proxy(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                     type_expr: Any = None, proxy_factory_fn: Callable | None = None) -> fx.Proxy:
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        proxy.node.meta["value"] = self._evaluate(kind, target, args, kwargs)
        return proxy

    def _evaluate(self, kind: str, target: Any, args: tuple, kwargs: dict) -> Any:
        if kind == "placeholder":
            self._placeholders += 1
            if self._placeholders == 1:
                return self._example
            if not args:
                raise BadInput("a traced network's forward takes one tensor input (others need defaults)")
            return args[0]
        args, kwargs = fx.node.map_aggregate(args, _value), fx.node.map_aggregate(kwargs, _value)
        self._evaluating = True
        try:
            if kind == "get_attr":
                return operator.attrgetter(target)(self.root)
            if kind == "call_module":
                return self._forward(*args, **kwargs)
            if kind == "call_method":
                return getattr(args[0], target)(*args[1:], **kwargs)
            return target(*args, **kwargs)
        finally:
            self._evaluating = False


def _traced_program(module: nn.Module, input_shape: Sequence[int]) -> fx.Graph:
    """The module's program, every node's concrete value in ``node.meta["value"]``."""
    first = next(module.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    tracer = _ConcreteTracer(torch.zeros(tuple(input_shape), device=device))
    try:
        with restored_state(module), torch.no_grad():
            module.eval()
            graph = tracer.trace(module)
    except BadInput:
        raise
    except Exception as error:  # a forward that fails or cannot be recorded
        raise BadInput(f"cannot trace {type(module).__name__} on an input of shape {tuple(input_shape)}: "
                       f"{type(error).__name__}: {error}") from error
    return graph


# -- from the program to the memory/kernel graph ------------------------------------------------
def _holds_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(_holds_tensor(v) for v in value)


def _flat(refs: Any) -> list[_Ref]:
    """Every memory reference in a nested structure (tuples, lists, dicts, slices) of references."""
    out: list[_Ref] = []
    fx.node.map_aggregate(refs, lambda r: out.append(r) if isinstance(r, _Ref) else None)
    return out


class _GraphBuilder:
    """Walks a traced program once and builds the memory/kernel graph (see the module docstring)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.graph = nx.DiGraph()
        self.refs: dict[fx.Node, Any] = {}
        self.outputs: list[str] = []
        self.param_names = {id(p): name for name, p in module.named_parameters()}

    def build(self, program: fx.Graph) -> nx.DiGraph:
        for node in program.nodes:
            if node.op == "placeholder":
                self.refs[node] = self._memory(node.name, FEATURE, node.meta.get("value")) if not self.refs else _META
            elif node.op == "get_attr":
                value = node.meta.get("value")  # none for the tensor constants fx stores itself
                self.refs[node] = self._parameter(value) if id(value) in self.param_names else _CONST
            elif node.op == "output":
                self.outputs = [r for r in _flat(self._refs_of(node.args)) if self._is_feature(r)]
            else:
                self.refs[node] = self._call(node)
        inputs = [self.refs[n] for n in program.nodes if n.op == "placeholder"][:1]
        _eliminate_dead_code(self.graph, inputs + self.outputs)
        _collapse_sums(self.graph, set(self.outputs))
        self.graph.graph.update(inputs=[str(r) for r in inputs], outputs=[str(r) for r in dict.fromkeys(self.outputs)])
        return self.graph

    def _refs_of(self, args: Any) -> Any:
        return fx.node.map_arg(args, lambda n: self.refs[n])

    def _memory(self, name: str, kind: str, value: Any = None) -> _Ref:
        """A memory node; ``shape`` is its array's shape (a feature array's without the batch dimension)."""
        shape = None
        if isinstance(value, torch.Tensor):
            shape = tuple(value.shape) if kind == PARAMETER else tuple(value.shape[1:])
        self.graph.add_node(name, partition=MEMORY, kind=kind, shape=shape)
        return _Ref(name)

    def _parameter(self, value: torch.Tensor) -> str:
        return self._memory(self.param_names[id(value)], PARAMETER, value)

    def _is_feature(self, ref: Any) -> bool:
        return isinstance(ref, _Ref) and self.graph.nodes[ref]["kind"] == FEATURE

    def _call(self, node: fx.Node) -> Any:
        value = node.meta["value"]
        if not _holds_tensor(value):
            return _META
        op = self.module.get_submodule(node.target) if node.op == "call_module" else node.target
        operands = self._refs_of((node.args, node.kwargs))
        name = _base_name(op)
        if name in ALIASES or (name == "concat" and _single_operand(node)):
            return self._aliased(node, operands[0], value)
        features = [r for r in _flat(operands) if self._is_feature(r)]
        if name in CONSTANTS or not features or (name == "mul" and _times_zero(node)):
            return _CONST
        reads = features + [r for r in _flat(operands) if not self._is_feature(r)]
        if node.op == "call_module":
            reads += [self._parameter(p) for p in op.parameters()]
        reads = list(dict.fromkeys(reads))
        if name == "add" and len(reads) == 1:  # a constant or scalar added to one array
            return reads[0]
        args = fx.node.map_arg(node.args, lambda n: n.meta.get("value"))
        kwargs = fx.node.map_arg(node.kwargs, lambda n: n.meta.get("value"))
        return self._kernel(node.name, kernel_type(op, args, kwargs), reads, value)

    def _aliased(self, node: fx.Node, operands: tuple, value: Any) -> Any:
        """The reference an aliasing operation passes through (an element, for ``getitem`` of a tuple)."""
        source = operands[0] if operands else _CONST
        if isinstance(source, (tuple, list)):
            if node.target is operator.getitem and isinstance(node.args[1], (int, slice)):
                return source[node.args[1]]
            source = next(iter(_flat(source)), _CONST)  # torch.cat of one tensor in a list
        if isinstance(value, (tuple, list)):
            return [source] * len(value)
        return source

    def _kernel(self, name: str, kind: str, reads: list[str], value: Any) -> Any:
        self.graph.add_node(name, partition=KERNEL, kind=kind)
        self.graph.add_edges_from((r, name) for r in reads)
        if isinstance(value, torch.Tensor):
            return self._written(name, f"{name}.out", value)
        return [self._written(name, f"{name}.out{i}", v) if _holds_tensor(v) else _META for i, v in enumerate(value)]

    def _written(self, kernel: str, name: str, value: Any = None) -> _Ref:
        array = self._memory(name, FEATURE, value)
        self.graph.add_edge(kernel, array)
        return array


def _single_operand(node: fx.Node) -> bool:
    tensors = node.args[0] if node.args else node.kwargs.get("tensors", ())
    return isinstance(tensors, (tuple, list)) and len(tensors) == 1


def _times_zero(node: fx.Node) -> bool:
    """``x * 0`` or ``x.mul(0.)``: NB201's official ``none`` operation, a constant zero."""
    return any(isinstance(a, (int, float)) and not isinstance(a, bool) and a == 0 for a in node.args)


def _eliminate_dead_code(graph: nx.DiGraph, kept: Sequence[str]) -> None:
    """Remove every node that neither is in ``kept`` nor has a path into an output."""
    live = set(kept)
    for node in kept:
        live |= nx.ancestors(graph, node)
    graph.remove_nodes_from([n for n in graph if n not in live])


def _collapse_sums(graph: nx.DiGraph, outputs: set[str]) -> None:
    """Merge an ``add`` into the ``add`` that alone reads its sum (not an output): one n-ary ``add``."""
    for kernel in [k for k in nodes_of(graph, KERNEL) if graph.nodes[k]["kind"] == "add"]:
        (array,) = graph.successors(kernel)
        readers = list(graph.successors(array))
        if array in outputs or len(readers) != 1 or graph.nodes[readers[0]]["kind"] != "add":
            continue
        graph.add_edges_from((r, readers[0]) for r in graph.predecessors(kernel))
        graph.remove_nodes_from([kernel, array])


# -- public functions ---------------------------------------------------------------------------
def trace_graph(module: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32)) -> nx.DiGraph:
    """The bipartite memory/kernel graph of ``module`` run on an input of ``input_shape``.

    Conventions as :func:`cbred_ray.graphs.computational.cell_graph` (``partition``, ``kind``, reads
    and writes), what is and is not a kernel as the module docstring says; nodes in program order.
    ``graph.graph["inputs"]`` names the input array, ``graph.graph["outputs"]`` the output arrays (none
    when the network outputs a constant, e.g. NB201's cell without a path from input to output).
    The module is traced in eval mode without gradients and left as it was. BadInput when it cannot
    be traced (its forward fails on this input, or takes more than one tensor). Every operation is run
    once on the zero input: at batch 1 one torch thread is the fastest way (on a busy machine a thread
    pool costs ten times as much; ``torch.set_num_threads(1)``).
    """
    if not isinstance(module, nn.Module):
        raise BadInput(f"trace_graph needs an nn.Module, got {type(module).__name__}")
    return _GraphBuilder(module).build(_traced_program(module, input_shape))


def kernel_types_of(graph: nx.DiGraph) -> tuple[str, ...]:
    """The kernel types present in ``graph``, sorted: a vocabulary for :func:`kernel_counts`."""
    return tuple(sorted({graph.nodes[k]["kind"] for k in nodes_of(graph, KERNEL)}))


def kernel_counts(graph: nx.DiGraph, kernel_types: Sequence[str]) -> np.ndarray:
    """Kernels of each type, int64 in the order of ``kernel_types`` (:func:`cbred_ray.graphs.features.op_counts`).

    A kernel of a type not listed is an error (BadInput naming the types), not silently dropped:
    pass a vocabulary that covers the space (:func:`kernel_types_of` of its graphs). The operation
    usage is ``cbred_ray.graphs.features.op_usage(graph, kernel_types)`` with the same vocabulary.
    """
    kernel_types = tuple(kernel_types)
    missing = sorted(set(kernel_types_of(graph)) - set(kernel_types))
    if missing:
        raise BadInput(f"the graph has kernels of types {missing} that kernel_types {kernel_types} does not list")
    return op_counts(graph, kernel_types)


def graph_hash(graph: nx.DiGraph, iterations: int = HASH_ITERATIONS, shapes: bool = True) -> str:
    """Weisfeiler-Lehman hash of a memory/kernel graph (hex, 32 characters): the deduplication key.

    Nodes are labelled ``partition/kind/shape`` (a memory node's array shape, recorded by the tracer: so
    two networks that differ only in their widths hash apart; ``shapes=False`` hashes the structure alone,
    to compare with a closed-form graph that records no shapes); names and node order do not matter, so
    graphs equal up to renaming hash equal. Distinct hashes mean distinct graphs; equal hashes of different graphs are
    possible in principle (WL cannot separate every pair), not seen on NB201 at ``iterations``.
    """
    labelled = nx.DiGraph()
    labelled.add_nodes_from((n, {"label": f"{a['partition']}/{a['kind']}" + (f"/{a.get('shape')}" if shapes else "")})
                            for n, a in graph.nodes(data=True))
    labelled.add_edges_from(graph.edges)
    with warnings.catch_warnings():  # networkx warns on every directed graph that its hashes changed in 3.5
        warnings.simplefilter("ignore", UserWarning)
        return nx.weisfeiler_lehman_graph_hash(labelled, node_attr="label", iterations=iterations)


@dataclass(frozen=True)
class TracedNetwork:
    """One traced network: its graph, parameters and MACs (:mod:`cbred_ray.stats.cost`) and graph hash."""

    graph: nx.DiGraph
    params: float
    macs: float
    hash: str


def network_summary(module: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32),
                    iterations: int = HASH_ITERATIONS) -> TracedNetwork:
    """Trace ``module`` once and measure it: graph, :func:`~cbred_ray.stats.cost.params`,
    :func:`~cbred_ray.stats.cost.macs` at ``input_shape`` (0 for a module without parameters, which has
    no convolution or linear layer) and :func:`graph_hash`."""
    graph = trace_graph(module, input_shape)
    has_params = next(module.parameters(), None) is not None
    return TracedNetwork(graph, params(module), macs(module, tuple(input_shape)) if has_params else 0.0,
                         graph_hash(graph, iterations))
