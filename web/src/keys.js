// The room's keyboard (outside text fields): Space or K play/pause, Left/Right 5 s, J/L 10 s
// for whoever controls playback (the host and co-hosts); M mute, F full screen, C to the
// comment box for everyone.

/** Handles one keydown on the room's page. */
export function roomShortcut(event, { player, controls, comments, canControl }) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
  const video = player.video;
  const actions = {
    ' ': () => canControl && controls.togglePlay(),
    k: () => canControl && controls.togglePlay(),
    ArrowLeft: () => canControl && controls.seekBy(-5),
    ArrowRight: () => canControl && controls.seekBy(5),
    j: () => canControl && controls.seekBy(-10),
    l: () => canControl && controls.seekBy(10),
    m: () => (video.muted ? player.resumeByUser({ unmute: true }) : (video.muted = true)),
    f: () => (document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen()).catch(() => {}),
    c: () => comments.input.focus(),
  };
  const action = actions[event.key];
  if (!action) return;
  event.preventDefault();
  action();
}
