/** The live view of `edgelstm run` (README "Live view"): per-device ring buffers, the fleet summary, the page and its event stream. */
export { DeviceTrack, BAND_K, EPISODES_KEPT, bytesPerDevice, type DeviceRow, type EpisodeMark, type TrackPoints } from './device-track';
export { FleetView, VIEW_DEFAULTS, type FleetSummary, type FleetViewOptions, type ViewSource } from './fleet-view';
export { ViewServer, MAX_VIEW_CLIENTS, type DeviceUpdate } from './view-server';
export { livePage } from './page';
