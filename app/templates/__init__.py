"""Campaign templates (issue 18 part 3): ready campaigns for the seed's four aims, from a few parameters."""

from .catalogue import AIMS, TEMPLATES, Template
from .service import build, listing

__all__ = ["AIMS", "TEMPLATES", "Template", "build", "listing"]
