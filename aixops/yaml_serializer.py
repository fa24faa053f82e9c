"""Django's YAML serialization format (SERIALIZATION_MODULES["yaml"]) with fixtures read
through aixops.bounded_yaml: `loaddata` refuses a fixture with aliases, deep nesting, too
many values or bytes that are not UTF-8, naming the file and the line. dumpdata is Django's."""

from django.core.serializers.base import DeserializationError
from django.core.serializers.python import Deserializer as PythonDeserializer
from django.core.serializers.pyyaml import Serializer

from . import bounded_yaml

__all__ = ["Deserializer", "Serializer"]


class Deserializer(PythonDeserializer):
    """A YAML stream or string, checked and loaded, then deserialized as Django does."""

    def __init__(self, stream_or_string, **options):
        try:
            objects = bounded_yaml.load(stream_or_string)
        except bounded_yaml.YAMLInputError as error:
            raise DeserializationError(str(error)) from None
        super().__init__(objects, **options)
