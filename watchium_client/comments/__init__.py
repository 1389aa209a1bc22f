"""Living comments on the client side: timed replay of an episode's comments (docs/COMMENTS.md).

| module | holds |
| --- | --- |
| ``_replay`` | :class:`CommentReplay`: windows fetched ahead, each comment shown on time |
"""

from __future__ import annotations

from watchium_client.comments._replay import (
    CommentReplay,
    Playhead,
    ReplayMode,
    ReplayTimings,
)

__all__ = ["CommentReplay", "Playhead", "ReplayMode", "ReplayTimings"]
