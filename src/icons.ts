import { LabIcon } from '@jupyterlab/ui-components';

import cookbookSvg from '../style/icons/cookbook.svg';

export const cookbookIcon = new LabIcon({
  name: 'cookbook-ext:cookbook',
  svgstr: cookbookSvg
});
