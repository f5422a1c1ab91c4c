// The record calls (Counter.inc, Gauge.set/add/sub/inc/dec, Histogram.record/record_ns) as plain
// CPython methods (METH_FASTCALL | METH_KEYWORDS) on the pybind11 classes.
//
// Why: a method defined with pybind11's .def() runs through its general dispatcher (the function
// record, argument casters, overload chain, keyword matching): ~110 ns a call measured here,
// against ~13 ns for a C method of a builtin type, while the record itself is a few ns. A fast
// method takes its C++ object straight out of the pybind11 instance and reads its one optional
// argument by hand, so `counter.inc()` costs about what CPython's own method calls cost. The
// descriptor (PyDescr_NewMethod) checks that `self` is an instance of the class before the call,
// as for any method of a builtin. Errors stay the pybind11 exceptions the bodies throw (TypeError,
// ValueError), turned into the Python error here.
//
// A method is a struct:
//   struct CounterInc {
//     static constexpr const char* name = "inc";                        // the Python method
//     static constexpr std::array<const char*, 2> args{"n", "exemplar"};  // its optional arguments
//     static constexpr const char* doc = "...";
//     static void call(const Counter& self, const Arguments<2>& a);  // a[k]: nullptr when not given
//   };
//   def_fast<CounterInc>(counter_class);
// Required arguments are the body's to check (required() in module.cpp), with its own message.
#pragma once

#include <pybind11/pybind11.h>

#include <array>
#include <cstddef>
#include <exception>

namespace wsm::python {

namespace py = pybind11;

template <std::size_t N>
using Arguments = std::array<PyObject*, N>;

namespace detail {

// The arguments by position, then by keyword, into their slots; false (TypeError set) for too
// many, an unknown keyword or one given twice.
template <class Method>
bool parse(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
           Arguments<Method::args.size()>& out) noexcept {
  constexpr auto n = static_cast<Py_ssize_t>(Method::args.size());
  out.fill(nullptr);
  if (nargs > n) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd argument%s (%zd given)", Method::name, n,
                 n == 1 ? "" : "s", nargs);
    return false;
  }
  for (Py_ssize_t k = 0; k < nargs; ++k) out[static_cast<std::size_t>(k)] = args[k];
  const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    PyObject* keyword = PyTuple_GET_ITEM(kwnames, k);
    std::size_t slot = 0;
    while (slot < Method::args.size() && PyUnicode_CompareWithASCIIString(keyword, Method::args[slot]) != 0) ++slot;
    if (slot == Method::args.size()) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", Method::name, keyword);
      return false;
    }
    if (out[slot] != nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", Method::name, Method::args[slot]);
      return false;
    }
    out[slot] = args[nargs + k];  // keyword values follow the positionals
  }
  return true;
}

template <class T, class Method>
PyObject* fast_call(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) noexcept {
  Arguments<Method::args.size()> arguments;
  if (!parse<Method>(args, nargs, kwnames, arguments)) return nullptr;
  // The held C++ value: the descriptor has checked self's type, and these classes are bound with
  // one base only, so pybind11's first value slot is T's.
  auto* instance = reinterpret_cast<py::detail::instance*>(self);
  const T& value = *instance->get_value_and_holder().template value_ptr<T>();
  try {
    Method::call(value, arguments);
  } catch (py::builtin_exception& e) {
    e.set_error();
    return nullptr;
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

}  // namespace detail

// Installs Method on cls (replacing a method of that name, if any).
template <class Method, class T>
void def_fast(py::class_<T>& cls) {
  using Fast = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);
  constexpr Fast fast = &detail::fast_call<T, Method>;
  // PyCFunction is the type PyMethodDef stores; METH_FASTCALL | METH_KEYWORDS tells CPython the
  // real signature. The cast goes through void (*)() so that -Wcast-function-type accepts it.
  static PyMethodDef def{Method::name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast)),
                         METH_FASTCALL | METH_KEYWORDS, Method::doc};
  PyObject* descriptor = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def);
  if (descriptor == nullptr) throw py::error_already_set();
  const int failed = PyObject_SetAttrString(cls.ptr(), Method::name, descriptor);
  Py_DECREF(descriptor);
  if (failed != 0) throw py::error_already_set();
}

}  // namespace wsm::python
