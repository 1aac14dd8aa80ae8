"""Report renderers: the G11 regulatory return (xlsx) and the monthly management report (PDF).

Pure functions from DataFrames/dicts to bytes; no dagster here (assets wrap them).
"""

from plugins.reports.g11 import build_g11_table, render_g11_xlsx, yuan_to_wan
from plugins.reports.management import management_sections, mask_name, render_management_pdf

__all__ = [
    "build_g11_table",
    "management_sections",
    "mask_name",
    "render_g11_xlsx",
    "render_management_pdf",
    "yuan_to_wan",
]
