"""TFX's standard components with one more execution property, so that
their cache key holds what their own key misses: the hash of the user code
the Evaluator imports by module_path, or of the schema file ImportSchemaGen
reads (its key holds the file's path, not its content). See
pipeline/fingerprint.py."""
from tfx.dsl.components.base.base_component import BaseComponent
from tfx.types.component_spec import ExecutionParameter

CODE_FINGERPRINT_KEY = "code_fingerprint"


def with_fingerprint(component: BaseComponent,
                     fingerprint: str) -> BaseComponent:
    """`component`, its spec rebuilt as a subclass of its own spec class
    with a CODE_FINGERPRINT_KEY parameter (read by no executor: only part of
    the cache key), set to `fingerprint`."""
    spec = component.spec
    spec_class = type(spec)
    extended = type(spec_class.__name__, (spec_class,), {
        "PARAMETERS": {**spec_class.PARAMETERS, CODE_FINGERPRINT_KEY:
                       ExecutionParameter(type=str, optional=True)}})
    # The same (already bound) channels; the class is still a subclass of
    # the component's SPEC_CLASS, as TFX checks.
    component.spec = extended(**spec.inputs, **spec.outputs,
                              **spec.exec_properties,
                              **{CODE_FINGERPRINT_KEY: fingerprint})
    return component
