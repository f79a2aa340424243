"""FP-LIIF face parsing as a ComfyUI custom-node pack (V3 API).

ComfyUI imports this file from ``custom_nodes/<pack>/``. It imports nothing heavy and nothing from ComfyUI at
module level, so it also imports cleanly under pytest or after ``pip install -e .``; the nodes are loaded
when ComfyUI calls :func:`comfy_entrypoint`.
"""

WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]


async def comfy_entrypoint():
    """The pack's ``ComfyExtension`` (called by ComfyUI)."""
    from .nodes import FPLIIFExtension

    return FPLIIFExtension()
