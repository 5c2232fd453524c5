/** What outbound calls to fagsystem endpoints identify themselves as. */
export const APP_VERSION_HEADER = 'eformidling-ip-taushetsbelagt/0.1.0';
